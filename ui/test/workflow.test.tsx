// The workflows in the client (docs/workflows.md): the request the form
// builds (only the fields given, so the bound context fills the rest), the
// live run in the store (stages, items, the result; a stage change
// announced, an item not), and the rendering: items by shape, the card,
// the score worded as a relative score, hostile strings kept as text.

import { render } from "preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ChatStore } from "../src/chat";
import { ItemView, WorkflowView } from "../src/components/Workflow";
import { ChatSocket } from "../src/socket";
import { diagnosisData, emptyDx, emptyRx, newRun, prescriptionData, type WorkflowRun } from "../src/workflow";
import { FakeWs, fakeDeps } from "./fakes";

const EVIL = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;
const DISC = "Medical disclaimer: decision support only.";

let root: HTMLElement;
function mount(node: preact.ComponentChild) {
  root = document.createElement("div");
  document.body.append(root);
  render(node, root);
  return root;
}
afterEach(() => {
  if (root) {
    render(null, root);
    root.remove();
  }
});

describe("the form's request", () => {
  it("sends only the fields given, in seed 004's shape", () => {
    const f = emptyDx();
    f.symptoms = [{ name: " fever ", severity: "moderate", duration: "3 days" }, { name: "", severity: "severe", duration: "" }, { name: "cough", severity: "", duration: "" }];
    f.temperature = "38.6";
    f.blood_pressure = "128 / 82";
    f.age = "45";
    f.oxygen = "air";
    f.allergies = "penicillin, latex";
    expect(diagnosisData(f)).toEqual({
      data: { symptoms: [{ name: "fever", severity: "moderate", duration: "3 days" }, { name: "cough" }], vitals: { temperature: 38.6, blood_pressure: "128/82", oxygen: "air" }, history: { age: 45, allergies: ["penicillin", "latex"] } },
      errors: [],
    });
    // Nothing given: an empty data object, for the context to fill.
    expect(diagnosisData(emptyDx())).toEqual({ data: {}, errors: [] });
  });

  it("names a field that is not a number or not a blood pressure", () => {
    const f = emptyDx();
    f.heart_rate = "fast";
    f.blood_pressure = "high";
    expect(diagnosisData(f).errors).toEqual(["Heart rate must be a number.", "Blood pressure must be systolic/diastolic, e.g. 120/80."]);
  });

  it("builds a prescription with proposed and current medications", () => {
    const f = emptyRx();
    f.diagnosis = "Pneumonia";
    f.medications = "amoxicillin\nwarfarin";
    f.current_medications = "aspirin";
    f.allergies = "penicillin";
    f.weight = "70";
    expect(prescriptionData(f).data).toEqual({ diagnosis: "Pneumonia", patient_info: { weight: 70 }, allergies: ["penicillin"], medications: ["amoxicillin", "warfarin"], current_medications: ["aspirin"] });
  });
});

describe("rendering", () => {
  it("shows a candidate's relative score, never a probability, and hostile strings as text", () => {
    const el = mount(
      <ItemView c={{ diagnosis: EVIL, probability: 0.4213, matched_symptoms: ["fever", EVIL], citations: [{ title: EVIL, url: "javascript:alert(1)", quoted_text: EVIL }, { title: "Flu", url: "https://medlineplus.gov/flu.html" }] }} />,
    );
    expect(el.textContent).toContain("relative score 0.42");
    expect(el.textContent).not.toMatch(/probab/i);
    expect(el.querySelector("img, script")).toBeNull();
    expect(el.textContent).toContain(EVIL);
    const links = [...el.querySelectorAll("a")].map((a) => a.getAttribute("href"));
    expect(links).toEqual(["https://medlineplus.gov/flu.html"]);
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it("shows exclusions with their reason and interactions with their severity", () => {
    const el = mount(
      <div>
        <ItemView c={{ medication: "amoxicillin", status: "excluded", reason: "penicillin allergy: amoxicillin is in the Penicillins class", classes: ["Penicillin-class Antibacterial"], citations: [] }} />
        <ItemView c={{ interaction: "warfarin + aspirin", drugs: ["warfarin", "aspirin"], severity: "Significant", source: "NDF-RT", citations: [] }} />
        <ItemView c={{ monitoring: EVIL, medication: "warfarin", section: "Boxed warning", citations: [] }} />
      </div>,
    );
    expect(el.querySelector(".wf-item.excluded")!.textContent).toContain("Excluded: penicillin allergy");
    expect(el.querySelector(".wf-item.interaction")!.textContent).toContain("severity: Significant");
    expect(el.querySelector(".wf-item.monitoring")!.textContent).toContain(EVIL);
    expect(el.querySelector("img, script")).toBeNull();
  });

  it("renders the stages reached, the items and the card with NEWS2 and the disclaimer apart", () => {
    const run: WorkflowRun = {
      ...newRun("diagnosis"),
      stages: [
        { stage: "symptoms_analysis", progress: 10, message: "" },
        { stage: "vitals_evaluation", progress: 30, message: "" },
      ],
      items: [{ stage: "differential_diagnosis", content: { diagnosis: "Influenza", probability: 0.6, matched_symptoms: ["fever"], citations: [] } }],
    };
    let el = mount(<WorkflowView run={run} disclaimer={DISC} />);
    expect(el.querySelector('[role="progressbar"]')!.getAttribute("aria-valuenow")).toBe("30");
    expect([...el.querySelectorAll(".wf-stages li.done")].map((l) => (l as HTMLElement).dataset.stage)).toEqual(["symptoms_analysis", "vitals_evaluation"]);
    expect(el.querySelector(".wf-card")).toBeNull();
    render(null, root);
    root.remove();

    const result = {
      workflow: "diagnosis", status: "complete", primary_diagnosis: EVIL, confidence: 0.6, urgency: "high", urgency_basis: ["NEWS2 aggregate 5"],
      news2: { aggregate: 5, parameters_scored: 5, missing: ["consciousness", "air_or_oxygen"], clinical_risk: "medium", red_score: false },
      differential: [{ diagnosis: "Influenza", probability: 0.6 }, { diagnosis: "Common cold", probability: 0.4 }],
      recommended_tests: [{ condition: "Influenza", text: "A rapid influenza diagnostic test.", citations: [{ title: "Flu", url: "https://medlineplus.gov/flu.html" }] }],
      citations: [{ title: "Flu", url: "https://medlineplus.gov/flu.html" }], disclaimer: EVIL, unused: [{ field: "vitals.heart_rate", value: -5, reason: EVIL }], notes: [],
    };
    el = mount(<WorkflowView run={{ ...run, result }} disclaimer={DISC} />);
    const card = el.querySelector(".wf-card")!;
    expect(card.textContent).toContain("Urgency: high");
    expect(card.textContent).toContain("NEWS2 5 over 5 of 7 parameters");
    expect(card.textContent).toContain("Missing parameters: consciousness, air or oxygen");
    expect(card.textContent).toContain("A rapid influenza diagnostic test.");
    expect(card.textContent).toContain("Common cold relative score 0.40");
    expect(card.textContent!.replace("not a calibrated probability", "")).not.toMatch(/probab/i);
    const disc = card.querySelector('aside[aria-label="Medical disclaimer"]')!;
    expect(disc.textContent).toBe(EVIL);
    expect(card.querySelector("img, script")).toBeNull();
    expect(el.querySelector('[role="progressbar"]')!.getAttribute("aria-valuenow")).toBe("100");
  });
});

describe("the store", () => {
  const CONV = "0190a000-0000-7000-8000-000000000001";
  const MID = "0190a000-0000-7000-8000-0000000000a2";
  let stored: Record<string, unknown>[] = [];
  beforeEach(async () => {
    vi.useFakeTimers();
    FakeWs.all = [];
    stored = [];
    const mem = new Map<string, string>();
    const storage = { get length() { return mem.size; }, clear: () => mem.clear(), getItem: (k: string) => mem.get(k) ?? null, key: () => null, removeItem: (k: string) => void mem.delete(k), setItem: (k: string, v: string) => void mem.set(k, v) };
    vi.stubGlobal("localStorage", storage);
    vi.stubGlobal("sessionStorage", storage);
    vi.stubGlobal("history", { replaceState: () => undefined });
    const api = await import("../src/api");
    const json = (b: unknown, status = 200) => new Response(JSON.stringify(b), { status, headers: { "Content-Type": "application/json" } });
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init?: RequestInit) => {
        const u = String(url);
        if (u.startsWith("/api/auth/login")) return json({ access_token: "a", expires_in: 900, user: { id: "u", email: "e@x", role: "clinician" } });
        if (u.startsWith("/api/models")) return json({ models: [], default: null, disclaimer: DISC });
        if (u.startsWith("/api/conversations?")) return json({ conversations: [] });
        if (u === "/api/conversations" && init?.method === "POST") return json({ id: CONV, title: "t", created_at: "", updated_at: "", message_count: 0 }, 201);
        if (u.startsWith(`/api/conversations/${CONV}/messages`)) return json({ messages: stored });
        return json({ error: { code: "not_found", message: "no" } }, 404);
      }),
    );
    await api.signIn("e@x", "password1", false);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("sends the workflow message, keeps stages and items, announces stages only, and shows a stored result", async () => {
    const store = new ChatStore(new ChatSocket(fakeDeps()));
    await store.init(null);
    await vi.advanceTimersByTimeAsync(0);
    const ws = FakeWs.all.at(-1)!;
    ws.accept();
    await store.runWorkflow("diagnosis", { symptoms: [{ name: "fever" }] }, "Diagnosis workflow: fever");
    const sent = ws.sent.at(-1) as Record<string, unknown>;
    expect(sent).toMatchObject({ type: "workflow", workflow: "diagnosis", data: { symptoms: [{ name: "fever" }] }, conversation_id: CONV });
    ws.emit({ type: "message_start", conversation_id: CONV, message_id: MID, user_message_id: "u1", client_message_id: sent.client_message_id, workflow: "diagnosis" });
    ws.emit({ type: "workflow_progress", message_id: MID, workflow: "diagnosis", stage: "symptoms_analysis", progress: 10, message: "m" });
    expect(store.state.announcement.trim()).toBe("Symptoms analysis: 10%.");
    ws.emit({ type: "workflow_progress", message_id: MID, workflow: "diagnosis", stage: "differential_diagnosis", progress: 70, message: "m" });
    ws.emit({ type: "workflow_item", message_id: MID, workflow: "diagnosis", stage: "differential_diagnosis", content: { diagnosis: "Influenza", probability: 1 } });
    expect(store.state.announcement.trim()).toBe("Differential diagnosis: 70%.");
    const a = store.state.messages.at(-1)!;
    expect(a.workflow!.stages.map((s) => s.stage)).toEqual(["symptoms_analysis", "differential_diagnosis"]);
    expect(a.workflow!.items).toHaveLength(1);
    const result = { workflow: "diagnosis", primary_diagnosis: "Influenza", urgency: "low", disclaimer: DISC, status: "complete" };
    ws.emit({ type: "message_complete", message_id: MID, conversation_id: CONV, seq: 0, text: "Summary. " + DISC, citations: [], disclaimer: DISC, finish_reason: "stop", usage: {}, status: "complete", workflow_result: result });
    const done = store.state.messages.at(-1)!;
    expect(done.workflow!.result).toEqual(result);
    expect(done.workflow!.items).toHaveLength(1);
    expect(store.state.announcement).toMatch(/^Diagnosis workflow complete: Influenza, urgency low/);
    expect(store.state.pending).toBe(false);

    // Reopened: the stored message carries the result (Message.workflow).
    stored = [
      { id: "u1", conversation_id: CONV, role: "user", content: "Diagnosis request: fever", status: "complete", client_message_id: null, reply_to: null, finish_reason: null, usage: null, citations: [], created_at: "", updated_at: "", workflow: null },
      { id: MID, conversation_id: CONV, role: "assistant", content: "Summary.", status: "complete", client_message_id: null, reply_to: "u1", finish_reason: "stop", usage: null, citations: [], created_at: "", updated_at: "", workflow: result },
    ];
    await store.open(CONV);
    expect(store.state.messages[0].workflow).toBeNull();
    expect(store.state.messages[1].workflow).toEqual({ kind: "diagnosis", stages: [], items: [], result });
  });

  it("shows the server's refusal of a request, naming the field", async () => {
    const store = new ChatStore(new ChatSocket(fakeDeps()));
    await store.init(null);
    await vi.advanceTimersByTimeAsync(0);
    const ws = FakeWs.all.at(-1)!;
    ws.accept();
    await store.runWorkflow("diagnosis", { symptoms: Array(31).fill("a") }, "Diagnosis workflow");
    const msg = "data.symptoms has 31 entries; at most 30 are accepted (workflow_max_symptoms)";
    ws.emit({ type: "error", code: "invalid_message", message: msg, retryable: false });
    const a = store.state.messages.at(-1)!;
    expect(a.status).toBe("error");
    expect(a.error).toBe(msg);
    expect(store.state.pending).toBe(false);
  });
});

describe("the prescription stages", () => {
  it("lists seed 004's prescription stages, none done, before the first progress", () => {
    const el = mount(<WorkflowView run={newRun("prescription")} disclaimer={DISC} />);
    expect(el.querySelector('[role="progressbar"]')!.getAttribute("aria-valuenow")).toBe("0");
    expect([...el.querySelectorAll(".wf-stages li")].map((l) => (l as HTMLElement).dataset.stage)).toEqual(["allergy_check", "medication_selection", "interaction_check", "monitoring_advice", "finalization", "complete"]);
    expect(el.querySelectorAll(".wf-stages li.done")).toHaveLength(0);
  });
});
