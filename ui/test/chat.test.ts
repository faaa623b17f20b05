// The answer in flight across drops and reloads: resume from the last seq,
// re-send the same client_message_id before message_start, no text lost
// or repeated, on a fake clock and a fake socket.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ChatStore } from "../src/chat";
import { ChatSocket } from "../src/socket";
import { FakeWs, fakeDeps } from "./fakes";

const CONV = "0190a000-0000-7000-8000-000000000001";
const MID = "0190a000-0000-7000-8000-0000000000a2";
const UID = "0190a000-0000-7000-8000-0000000000a1";
const DISC = "Medical disclaimer: not advice.";

function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    get length() {
      return m.size;
    },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => void m.set(k, v),
  };
}

let stored: Record<string, unknown>[] = [];

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

async function signedIn() {
  const api = await import("../src/api");
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const u = String(url);
      if (u.startsWith("/api/auth/login")) return json({ access_token: "a", expires_in: 900, user: { id: "u", email: "e@x", role: "clinician" } });
      if (u.startsWith("/api/models"))
        return json({ models: [{ id: "offline", name: "Offline", local: true }, { id: "clinical", name: "Clinical (local first)", local: false }], default: "offline", disclaimer: DISC });
      if (u.startsWith("/api/conversations?")) return json({ conversations: [] });
      if (u === "/api/conversations" && init?.method === "POST") return json({ id: CONV, title: "t", created_at: "", updated_at: "", message_count: 0 }, 201);
      if (u.startsWith(`/api/conversations/${CONV}/messages`)) return json({ messages: stored });
      return json({ error: { code: "not_found", message: "no" } }, 404);
    }),
  );
  await api.signIn("e@x", "password1", false);
}

const flush = () => vi.advanceTimersByTimeAsync(0);
const sock = () => FakeWs.all[FakeWs.all.length - 1];

beforeEach(async () => {
  vi.useFakeTimers();
  FakeWs.all = [];
  stored = [];
  vi.stubGlobal("localStorage", memoryStorage());
  vi.stubGlobal("history", { replaceState: () => undefined });
  await signedIn();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

function chunk(seq: number, delta: string) {
  return { type: "message_chunk", message_id: MID, seq, delta };
}

describe("ChatStore", () => {
  it("streams, survives a drop with a resume from the last seq, and completes exactly once", async () => {
    const storage = memoryStorage();
    const store = new ChatStore(new ChatSocket(fakeDeps({ random: () => 0.5 })), storage);
    await store.init(null);
    await flush();
    sock().accept();
    await store.ask("What is gout?");
    await flush();
    const first = sock();
    expect(first.sent.at(-1)).toMatchObject({ type: "message", text: "What is gout?", conversation_id: CONV });
    const cmid = (first.sent.at(-1) as { client_message_id: string }).client_message_id;
    first.emit({ type: "message_start", conversation_id: CONV, message_id: MID, user_message_id: UID, client_message_id: cmid });
    first.emit({ type: "tool_call", message_id: MID, tool_call_id: "t", name: "kb_search", arguments: { query: "gout", k: 5 } });
    expect(store.state.messages.at(-1)!.phase).toBe("searching");
    first.emit({ type: "tool_result", message_id: MID, tool_call_id: "t", name: "kb_search", result: { count: 2, top: [] }, duration_ms: 3.5 });
    expect(store.state.messages.at(-1)!.phase).toBe("writing");
    first.emit(chunk(1, "Gout is "));
    first.emit(chunk(2, "a form "));
    first.drop();
    expect(store.state.messages.at(-1)!.content).toBe("Gout is a form ");
    await vi.advanceTimersByTimeAsync(1000);
    const second = sock();
    expect(second).not.toBe(first);
    second.accept();
    expect(second.sent).toEqual([{ type: "resume", message_id: MID, last_seq: 2 }]);
    // The server replays from seq 3, but may repeat what was already shown.
    second.emit({ type: "message_start", conversation_id: CONV, message_id: MID, user_message_id: UID, client_message_id: cmid });
    second.emit(chunk(2, "a form "));
    second.emit(chunk(3, "of arthritis. "));
    second.emit(chunk(4, DISC));
    const text = "Gout is a form of arthritis. " + DISC;
    second.emit({ type: "message_complete", message_id: MID, conversation_id: CONV, seq: 4, text, citations: [{ index: 1, title: "What is (are) Gout ?", url: "https://x/gout", source_name: "GARD", relevance_score: 2, quoted_text: "q", source_id: "s", source_type: "kb" }], disclaimer: DISC, finish_reason: "stop", usage: {}, status: "complete" });
    second.emit({ type: "message_complete", message_id: MID, conversation_id: CONV, seq: 4, text, citations: [], disclaimer: DISC, finish_reason: "stop", usage: {}, status: "complete" });
    const a = store.state.messages.filter((m) => m.role === "assistant");
    expect(a).toHaveLength(1);
    expect(a[0].content).toBe(text);
    expect(a[0].status).toBe("complete");
    expect(a[0].citations).toHaveLength(1); // the stray second complete was ignored
    expect(store.state.pending).toBe(false);
    expect(storage.getItem("medstream.pending")).toBeNull();
    expect(store.state.telemetry.map((t) => t.event.type)).toEqual(["tool_call", "tool_result"]);
    expect(store.state.announcement).toMatch(/^Answer ready, with 1 source: Gout is a form/);
  });

  it("re-sends the same client_message_id when the drop came before message_start", async () => {
    const store = new ChatStore(new ChatSocket(fakeDeps({ random: () => 0 })), memoryStorage());
    await store.init(null);
    await flush();
    sock().accept();
    await store.ask("What is gout?");
    const m1 = sock().sent.at(-1) as { client_message_id: string };
    sock().drop();
    await vi.advanceTimersByTimeAsync(1);
    sock().accept();
    const m2 = sock().sent.at(-1) as { type: string; client_message_id: string; conversation_id: string };
    expect(m2.type).toBe("message");
    expect(m2.client_message_id).toBe(m1.client_message_id);
    expect(m2.conversation_id).toBe(CONV);
  });

  it("after a reload, resumes the stored answer from seq 0 and replaces the checkpoint text", async () => {
    const storage = memoryStorage();
    storage.setItem("medstream.pending", JSON.stringify({ cmid: "c1", text: "What is gout?", conversationId: CONV, messageId: MID, userMessageId: UID }));
    stored = [
      { id: UID, conversation_id: CONV, role: "user", content: "What is gout?", status: "complete", client_message_id: "c1", reply_to: null, finish_reason: null, usage: null, citations: [], created_at: "", updated_at: "", feedback: null },
      { id: MID, conversation_id: CONV, role: "assistant", content: "Gout is", status: "streaming", client_message_id: null, reply_to: UID, finish_reason: null, usage: null, citations: [], created_at: "", updated_at: "", feedback: null, disclaimer: DISC },
    ];
    const store = new ChatStore(new ChatSocket(fakeDeps()), storage);
    await store.init(null);
    await flush();
    expect(store.state.currentId).toBe(CONV);
    expect(store.state.messages.at(-1)!.content).toBe("Gout is");
    sock().accept();
    expect(sock().sent).toEqual([{ type: "resume", message_id: MID, last_seq: 0 }]);
    sock().emit({ type: "message_start", conversation_id: CONV, message_id: MID, user_message_id: UID, client_message_id: "c1" });
    sock().emit(chunk(1, "Gout is "));
    expect(store.state.messages.at(-1)!.content).toBe("Gout is ");
    sock().emit(chunk(2, "painful."));
    sock().emit({ type: "message_complete", message_id: MID, conversation_id: CONV, seq: 2, text: "Gout is painful.", citations: [], disclaimer: DISC, finish_reason: "stop", usage: {}, status: "complete" });
    expect(store.state.messages.filter((m) => m.role === "assistant").map((m) => m.content)).toEqual(["Gout is painful."]);
  });

  it("a gap in seq asks for a resume instead of showing text out of order", async () => {
    const store = new ChatStore(new ChatSocket(fakeDeps()), memoryStorage());
    await store.init(null);
    await flush();
    sock().accept();
    await store.ask("q");
    const cmid = (sock().sent.at(-1) as { client_message_id: string }).client_message_id;
    sock().emit({ type: "message_start", conversation_id: CONV, message_id: MID, user_message_id: UID, client_message_id: cmid });
    sock().emit(chunk(1, "a"));
    sock().emit(chunk(3, "c"));
    expect(store.state.messages.at(-1)!.content).toBe("a");
    expect(sock().sent.at(-1)).toEqual({ type: "resume", message_id: MID, last_seq: 1 });
  });

  it("cancel before message_start is sent as soon as the id is known; a busy error is retried", async () => {
    const store = new ChatStore(new ChatSocket(fakeDeps()), memoryStorage());
    await store.init(null);
    await flush();
    sock().accept();
    await store.ask("q");
    const cmid = (sock().sent.at(-1) as { client_message_id: string }).client_message_id;
    sock().emit({ type: "error", code: "busy", message: "busy", retryable: true });
    await vi.advanceTimersByTimeAsync(1000);
    expect(sock().sent.filter((m) => (m as { type: string }).type === "message")).toHaveLength(2);
    store.cancel();
    sock().emit({ type: "message_start", conversation_id: CONV, message_id: MID, user_message_id: UID, client_message_id: cmid });
    expect(sock().sent.at(-1)).toEqual({ type: "cancel", message_id: MID });
    sock().emit({ type: "message_complete", message_id: MID, conversation_id: CONV, seq: 0, text: DISC, citations: [], disclaimer: DISC, finish_reason: "cancelled", usage: {}, status: "cancelled" });
    expect(store.state.messages.at(-1)!.status).toBe("cancelled");
    expect(store.state.pending).toBe(false);
  });

  it("a non-retryable error ends the answer with the server's message", async () => {
    const store = new ChatStore(new ChatSocket(fakeDeps()), memoryStorage());
    await store.init(null);
    await flush();
    sock().accept();
    await store.ask("q");
    sock().emit({ type: "error", code: "provider_error", message: "The provider failed", retryable: false });
    const a = store.state.messages.at(-1)!;
    expect(a.status).toBe("error");
    expect(a.error).toBe("The provider failed");
    expect(a.question).toBe("q");
  });

  it("sends the picked route as the message's model, also when the question is sent again after a drop", async () => {
    const store = new ChatStore(new ChatSocket(fakeDeps({ random: () => 0 })), memoryStorage());
    await store.init(null);
    await flush();
    sock().accept();
    // Nothing picked: the picker shows the server's default, and that is what is asked for.
    await store.ask("first");
    expect(sock().sent.at(-1)).toMatchObject({ type: "message", text: "first", model: "offline" });
    sock().emit({ type: "error", code: "provider_error", message: "x", retryable: false });
    store.selectModel("clinical");
    expect(localStorage.getItem("medstream.model")).toBe("clinical");
    await store.ask("second");
    expect(sock().sent.at(-1)).toMatchObject({ type: "message", text: "second", model: "clinical" });
    sock().drop();
    await vi.advanceTimersByTimeAsync(1);
    sock().accept();
    expect(sock().sent.at(-1)).toMatchObject({ type: "message", text: "second", model: "clinical" });
  });

  it("a stored pick that the server no longer lists falls back to the server's default", async () => {
    localStorage.setItem("medstream.model", "gone");
    const store = new ChatStore(new ChatSocket(fakeDeps()), memoryStorage());
    await store.init(null);
    await flush();
    expect(store.state.modelId).toBe("offline");
    sock().accept();
    await store.ask("q");
    expect(sock().sent.at(-1)).toMatchObject({ type: "message", model: "offline" });
  });

  it("keeps the server's telemetry events in arrival order and the answer's grounding", async () => {
    const store = new ChatStore(new ChatSocket(fakeDeps()), memoryStorage());
    await store.init(null);
    await flush();
    sock().accept();
    await store.ask("q");
    const cmid = (sock().sent.at(-1) as { client_message_id: string }).client_message_id;
    const s = sock();
    s.emit({ type: "message_start", conversation_id: CONV, message_id: MID, user_message_id: UID, client_message_id: cmid });
    s.emit({ type: "tool_call", message_id: MID, tool_call_id: "t", name: "kb_search", arguments: { query: "q", k: 5 } });
    s.emit({ type: "tool_result", message_id: MID, tool_call_id: "t", name: "kb_search", result: { count: 1, top: [] }, duration_ms: 1 });
    s.emit({ type: "routing", message_id: MID, route: "clinical", phi_detected: false, phi_unsure: false, categories: [], decision: "all", providers: ["a", "b"] });
    s.emit({ type: "llm_call", message_id: MID, provider: "a", model: "m1", local: false, attempt: 1, route: "clinical" });
    s.emit({ type: "llm_result", message_id: MID, provider: "a", model: "m1", local: false, attempt: 1, finish_reason: "error", error: "could not connect" });
    s.emit({ type: "llm_call", message_id: MID, provider: "b", model: "m2", local: true, attempt: 2, route: "clinical" });
    s.emit(chunk(1, "A."));
    s.emit({ type: "llm_result", message_id: MID, provider: "b", model: "m2", local: true, attempt: 2, prompt_tokens: 10, completion_tokens: 2, ttft_ms: 12, duration_ms: 40, finish_reason: "stop", grounding: 0.75 });
    s.emit({ type: "message_complete", message_id: MID, conversation_id: CONV, seq: 1, text: "A.", citations: [], disclaimer: DISC, finish_reason: "stop", usage: {}, status: "complete", grounding: 0.75 });
    expect(store.state.telemetry.map((t) => [t.event.type, t.event.provider ?? null])).toEqual([
      ["tool_call", null],
      ["tool_result", null],
      ["routing", null],
      ["llm_call", "a"],
      ["llm_result", "a"],
      ["llm_call", "b"],
      ["llm_result", "b"],
    ]);
    expect(store.state.telemetry.every((t) => t.messageId === MID)).toBe(true);
    expect(store.state.messages.at(-1)!.grounding).toBe(0.75);
  });
});
