// The telemetry panel renders what the server sent (docs/protocol.md
// "Telemetry"), in arrival order, and nothing it did not send.

import { render } from "preact";
import { afterEach, describe, expect, it } from "vitest";
import type { TelemetryEntry, UiMessage } from "../src/chat";
import { TelemetryPanel } from "../src/components/Panels";

const MID = "m1";
let root: HTMLElement;
afterEach(() => {
  render(null, root);
  root.remove();
});

function mount(entries: TelemetryEntry[], message?: Partial<UiMessage>) {
  root = document.createElement("div");
  document.body.append(root);
  const m: UiMessage | undefined = message ? { id: MID, role: "assistant", content: "", status: "complete", citations: [], finishReason: null, feedback: null, replyTo: null, phase: null, ...message } : undefined;
  render(<TelemetryPanel entries={entries} message={m} ttft={undefined} onClose={() => undefined} />, root);
  return root;
}

const ev = (at: number, event: Record<string, unknown>): TelemetryEntry => ({ at, messageId: MID, event: { message_id: MID, ...(event as { type: string }) } });

describe("TelemetryPanel", () => {
  const failover = [
    ev(1000, { type: "routing", route: "clinical", phi_detected: true, phi_unsure: false, categories: ["NAME", "DATE"], decision: "local_only", providers: ["ollama"] }),
    ev(1010, { type: "llm_call", provider: "ollama", model: "llama3.2", local: true, attempt: 1, route: "clinical" }),
    ev(1500, { type: "llm_result", provider: "ollama", model: "llama3.2", local: true, attempt: 1, prompt_tokens: null, completion_tokens: null, ttft_ms: null, duration_ms: 490, finish_reason: "error", grounding: null, error: "could not connect" }),
    ev(1510, { type: "llm_call", provider: "ollama-2", model: "llama3.2:8b", local: true, attempt: 2, route: "clinical" }),
    ev(3000, { type: "llm_result", provider: "ollama-2", model: "llama3.2:8b", local: true, attempt: 2, prompt_tokens: 1234, completion_tokens: 87, ttft_ms: 312.4, duration_ms: 1490, finish_reason: "stop", grounding: 0.8 }),
  ];

  it("lists routing and every model call and result in the order they came", () => {
    const el = mount(failover, { grounding: 0.8 });
    const titles = [...el.querySelectorAll(".tel-title")].map((e) => e.textContent);
    expect(titles).toEqual([
      "Routing · local_only",
      "LLM call · ollama · llama3.2",
      "LLM result · ollama · llama3.2",
      "LLM call · ollama-2 · llama3.2:8b",
      "LLM result · ollama-2 · llama3.2:8b",
    ]);
    const rows = [...el.querySelectorAll(".tel")];
    expect(rows[0].textContent).toContain("PHI detected");
    expect(rows[0].textContent).toContain("NAME, DATE");
    expect(rows[1].textContent).toContain("local");
    expect(rows[1].textContent).toContain("attempt 1");
    expect(rows[2].querySelector(".tel-error")!.textContent).toBe("could not connect");
    expect(rows[2].textContent).toContain("TTFT —");
    expect(rows[2].textContent).toContain("finish error");
    expect(rows[4].textContent).toContain("prompt 1,234 tok");
    expect(rows[4].textContent).toContain("completion 87 tok");
    expect(rows[4].textContent).toContain("TTFT 312 ms");
    expect(rows[4].textContent).toContain("total 1.49 s");
    expect(rows[4].textContent).toContain("grounding 80%");
    expect([...el.querySelectorAll(".tel-time")].map((e) => e.textContent)).toEqual(["+0.00 s", "+0.01 s", "+0.50 s", "+0.51 s", "+2.00 s"]);
    const stats = el.querySelector(".stats")!.textContent!;
    expect(stats).toContain("LLM calls2");
    expect(stats).toContain("Grounding80%");
  });

  it("shows no grounding share when the server measured none (the offline answerer)", () => {
    const el = mount(
      [
        ev(0, { type: "routing", route: "offline", phi_detected: false, categories: [], decision: "all" }),
        ev(1, { type: "llm_call", provider: "offline", model: "offline", local: true, attempt: 1 }),
        ev(2, { type: "llm_result", provider: "offline", model: "offline", local: true, attempt: 1, prompt_tokens: 0, completion_tokens: 50, ttft_ms: 1, duration_ms: 20, finish_reason: "stop", grounding: null }),
      ],
      { grounding: null },
    );
    expect(el.querySelector(".stats")!.textContent).toContain("Grounding—");
    expect(el.querySelectorAll(".tel")[0].textContent).toContain("PHI none");
    expect(el.querySelectorAll(".tel")[2].textContent).toContain("grounding —");
  });

  it("shows only the events of the message it is about, and unknown events as sent", () => {
    const other: TelemetryEntry = { at: 0, messageId: "other", event: { type: "llm_call", message_id: "other", provider: "x", model: "y" } };
    const el = mount([other, ev(5, { type: "new_kind", n: 1 })], {});
    expect([...el.querySelectorAll(".tel-title")].map((e) => e.textContent)).toEqual(["new_kind"]);
    expect(el.querySelector(".tel code")!.textContent).toContain('"n":1');
  });
});
