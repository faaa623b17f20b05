// The chat state: conversations, the open conversation's messages, the
// answer in flight and the telemetry of each answer. The socket is
// ChatSocket; REST goes through api.ts. Framework-free, so tests drive it
// directly; components subscribe to it.
//
// The answer in flight (Pending) survives reconnects and reloads: its
// client_message_id, conversation and message ids are kept in
// sessionStorage, and on every "connected" it is asked for again: resume
// from the last seq shown when the message id is known, else the same
// message again (the server answers a repeated client_message_id without a
// duplicate). Chunks at or below the last seq are dropped, a gap asks for a
// resume, so no text is lost or repeated.

import { ApiError, rest } from "./api";
import { ChatSocket } from "./socket";
import type { Citation, ClinicalContext, Conversation, Feedback, Message, MessageStatus, Model, ServerEvent } from "./types";
import { isKind, newRun, stageLabel, type Item, type WorkflowKind, type WorkflowRun } from "./workflow";

export type Phase = "sending" | "searching" | "writing" | null;

export interface UiMessage {
  id: string;
  role: "user" | "assistant";
  content: string;
  status: MessageStatus;
  citations: Citation[];
  finishReason: string | null;
  feedback: Feedback | null;
  replyTo: string | null;
  phase: Phase;
  error?: string;
  /** Text the user asked (assistant messages: the question answered). */
  question?: string;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  /** The grounding share of a model's answer (0..1), null when unmeasured. */
  grounding?: number | null;
  /** A diagnosis or prescription workflow this message runs or ran. */
  workflow?: WorkflowRun | null;
}

export interface TelemetryEntry {
  at: number; // ms since epoch (client clock) when it arrived
  messageId: string | null;
  event: ServerEvent;
}

interface Pending {
  cmid: string;
  text: string;
  conversationId: string;
  messageId: string | null;
  userMessageId: string | null;
  lastSeq: number;
  /** Text built from chunks, replacing any checkpoint once seq 1 arrives. */
  streamed: string;
  cancelRequested: boolean;
  sentAt: number;
  firstChunkAt: number | null;
  retries: number;
  /** The route asked for (a GET /api/models id), null for the server's default. */
  model: string | null;
  /** A clinical context the question binds its new conversation to. */
  contextId?: string | null;
  /** A workflow turn: the `workflow` message instead of `message`. */
  workflow?: { kind: WorkflowKind; data: Record<string, unknown> } | null;
}

const PENDING_KEY = "medstream.pending";

export interface ChatState {
  conversations: Conversation[];
  conversationsLoaded: boolean;
  search: string;
  searchResults: Conversation[] | null;
  currentId: string | null;
  messages: UiMessage[];
  loadingMessages: boolean;
  notFound: boolean;
  pending: boolean;
  models: Model[];
  modelId: string | null;
  disclaimer: string;
  telemetry: TelemetryEntry[];
  /** Client-measured time to first token per message id (ms). */
  ttft: Record<string, number>;
  announcement: string;
  toast: { text: string; undo?: () => void } | null;
  error: string | null;
  /** A patient context made in a new chat, bound by its first question. */
  draftContext: ClinicalContext | null;
  /** Bumped when the open conversation's context binding changed. */
  contextVersion: number;
}

export function uuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function fromServer(m: Message): UiMessage {
  return {
    id: m.id,
    role: m.role,
    content: m.content,
    status: m.status,
    citations: m.citations ?? [],
    finishReason: m.finish_reason,
    feedback: m.feedback ?? null,
    replyTo: m.reply_to,
    phase: null,
    usage: m.usage,
    grounding: typeof m.grounding === "number" ? m.grounding : null,
    workflow: storedRun(m.workflow),
  };
}

/** A stored workflow result (Message.workflow) as a finished run. */
function storedRun(w: unknown): WorkflowRun | null {
  if (!w || typeof w !== "object" || Array.isArray(w)) return null;
  const r = w as Item;
  if (!isKind(r.workflow)) return null;
  return { ...newRun(r.workflow), result: r };
}

export const TELEMETRY_TYPES = new Set(["tool_call", "tool_result", "llm_call", "llm_result", "routing"]);

export class ChatStore {
  state: ChatState = {
    conversations: [],
    conversationsLoaded: false,
    search: "",
    searchResults: null,
    currentId: null,
    messages: [],
    loadingMessages: false,
    notFound: false,
    pending: false,
    models: [],
    modelId: null,
    disclaimer: "",
    telemetry: [],
    ttft: {},
    announcement: "",
    toast: null,
    error: null,
    draftContext: null,
    contextVersion: 0,
  };
  private cbs = new Set<() => void>();
  private p: Pending | null = null;
  private deleting = new Map<string, ReturnType<typeof setTimeout>>();
  private searchSeq = 0;
  private unsub: Array<() => void> = [];

  constructor(
    public socket: ChatSocket,
    private storage: Storage = sessionStorage,
  ) {
    this.unsub.push(socket.onEvent((e) => this.onEvent(e)));
  }

  subscribe(cb: () => void): () => void {
    this.cbs.add(cb);
    return () => this.cbs.delete(cb);
  }

  private set(patch: Partial<ChatState>): void {
    this.state = { ...this.state, ...patch };
    for (const cb of this.cbs) cb();
  }

  private announce(text: string): void {
    // The same text twice would not be re-read; a trailing space change makes it new.
    this.set({ announcement: this.state.announcement === text ? text + " " : text });
  }

  // ---- start-up ---------------------------------------------------------

  async init(openId: string | null): Promise<void> {
    const saved = this.loadPending();
    void this.loadModels();
    await this.loadConversations();
    const id = saved?.conversationId ?? openId;
    if (id) await this.open(id, saved);
    this.socket.start();
  }

  dispose(): void {
    for (const u of this.unsub) u();
    this.socket.stop();
    for (const [id, t] of this.deleting) {
      clearTimeout(t);
      void rest.remove(id, true).catch(() => undefined);
    }
    this.deleting.clear();
  }

  async loadModels(): Promise<void> {
    try {
      const r = await rest.models();
      const stored = localStorage.getItem("medstream.model");
      const modelId = stored && r.models.some((m) => m.id === stored) ? stored : r.default;
      this.set({ models: r.models, modelId, disclaimer: r.disclaimer ?? "" });
    } catch {
      /* the picker stays empty */
    }
  }

  selectModel(id: string): void {
    localStorage.setItem("medstream.model", id);
    this.set({ modelId: id });
  }

  async loadConversations(): Promise<void> {
    try {
      const r = await rest.conversations();
      const hidden = this.deleting;
      this.set({ conversations: r.conversations.filter((c) => !hidden.has(c.id)), conversationsLoaded: true });
    } catch (e) {
      this.set({ conversationsLoaded: true, error: errorText(e) });
    }
  }

  async setSearch(q: string): Promise<void> {
    const seq = ++this.searchSeq;
    this.set({ search: q });
    const t = q.trim();
    if (!t) {
      this.set({ searchResults: null });
      return;
    }
    try {
      const r = await rest.conversations(t.slice(0, 200));
      if (seq === this.searchSeq) this.set({ searchResults: r.conversations.filter((c) => !this.deleting.has(c.id)) });
    } catch (e) {
      if (seq === this.searchSeq) this.set({ searchResults: [], error: errorText(e) });
    }
  }

  // ---- conversations ----------------------------------------------------

  newChat(): void {
    if (this.p) this.cancel();
    this.clearPending();
    this.set({ currentId: null, messages: [], notFound: false, error: null, pending: false, draftContext: null });
  }

  setDraftContext(c: ClinicalContext | null): void {
    this.set({ draftContext: c });
  }

  async open(id: string, resume: Pending | null = null): Promise<void> {
    if (this.p && this.p.conversationId !== id) this.clearPending();
    this.set({ currentId: id, messages: [], loadingMessages: true, notFound: false, error: null });
    let msgs: Message[];
    try {
      msgs = (await rest.messages(id)).messages;
    } catch (e) {
      if (this.state.currentId !== id) return;
      if (e instanceof ApiError && e.status === 404) this.set({ notFound: true, loadingMessages: false });
      else this.set({ error: errorText(e), loadingMessages: false });
      if (resume) this.clearPending();
      return;
    }
    if (this.state.currentId !== id) return;
    const disc = msgs.find((m) => m.disclaimer)?.disclaimer;
    const ui = msgs.map(fromServer);
    const questions = new Map(msgs.filter((m) => m.role === "user").map((m) => [m.id, m.content]));
    for (const m of ui) if (m.role === "assistant" && m.replyTo) m.question = questions.get(m.replyTo);
    this.set({ messages: ui, loadingMessages: false, disclaimer: this.state.disclaimer || disc || "" });
    if (resume) {
      this.p = { ...resume, lastSeq: 0, streamed: "", firstChunkAt: null, cancelRequested: false };
      const a = resume.messageId && ui.find((m) => m.id === resume.messageId);
      if (a && a.status !== "streaming") {
        // It finished while the page was away.
        this.clearPending();
        return;
      }
      if (!a) {
        // Not yet stored as a turn: show the question again until message_start.
        this.addLocalTurn(resume.text, resume.cmid, resume.workflow?.kind ?? null);
      } else {
        // A workflow's progress and items are not replayed: its run starts empty.
        this.patchMessage(a.id, { phase: a.content ? "writing" : "searching", workflow: resume.workflow ? (a.workflow ?? newRun(resume.workflow.kind)) : a.workflow });
      }
      this.set({ pending: true });
      this.request();
    }
  }

  async rename(id: string, title: string): Promise<void> {
    const t = title.trim();
    if (!t) return;
    try {
      const c = await rest.rename(id, t.slice(0, 200));
      this.set({ conversations: this.state.conversations.map((x) => (x.id === id ? c : x)) });
    } catch (e) {
      this.set({ error: errorText(e) });
    }
  }

  /** Puts the server's new copy of a conversation in the lists. */
  replaceConversation(c: Conversation): void {
    const swap = (l: Conversation[]) => l.map((x) => (x.id === c.id ? c : x));
    this.set({ conversations: swap(this.state.conversations), searchResults: this.state.searchResults ? swap(this.state.searchResults) : null });
  }

  /** Deletes after a grace period in which undo() brings it back. */
  remove(id: string, graceMs = 6000): void {
    const conv = this.state.conversations.find((c) => c.id === id);
    const title = conv?.title ?? "Conversation";
    if (this.state.currentId === id) this.newChat();
    this.set({
      conversations: this.state.conversations.filter((c) => c.id !== id),
      searchResults: this.state.searchResults?.filter((c) => c.id !== id) ?? null,
    });
    const timer = setTimeout(() => {
      this.deleting.delete(id);
      rest.remove(id).catch((e) => this.set({ error: errorText(e) }));
      if (this.state.toast?.undo) this.set({ toast: null });
    }, graceMs);
    this.deleting.set(id, timer);
    const undo = () => {
      const t = this.deleting.get(id);
      if (!t) return;
      clearTimeout(t);
      this.deleting.delete(id);
      this.set({ toast: null });
      this.announce(`Restored “${title}”.`);
      void this.loadConversations();
    };
    this.set({ toast: { text: `Deleted “${title}”.`, undo } });
    this.announce(`Deleted “${title}”. Undo is available for a few seconds.`);
  }

  showError(text: string): void {
    this.set({ error: text });
  }

  dismissToast(): void {
    this.set({ toast: null });
  }

  // ---- asking -----------------------------------------------------------

  private addLocalTurn(text: string, cmid: string, kind: WorkflowKind | null = null): void {
    this.set({
      messages: [
        ...this.state.messages,
        { id: "local-u-" + cmid, role: "user", content: text, status: "complete", citations: [], finishReason: null, feedback: null, replyTo: null, phase: null },
        { id: "local-a-" + cmid, role: "assistant", content: "", status: "streaming", citations: [], finishReason: null, feedback: null, replyTo: "local-u-" + cmid, phase: "sending", question: kind ? undefined : text, workflow: kind ? newRun(kind) : null },
      ],
    });
  }

  /** Asks a question in the open conversation (a new one when none). */
  async ask(text: string): Promise<void> {
    const t = text.trim();
    if (!t || this.p) return;
    const cmid = uuid();
    this.set({ error: null, pending: true });
    this.addLocalTurn(t, cmid);
    let convId = this.state.currentId;
    const contextId = convId ? null : (this.state.draftContext?.id ?? null);
    if (!convId) {
      // Created over REST first, so that re-sending the question after a
      // drop names the same conversation and stays idempotent.
      try {
        const c = await rest.createConversation(t.slice(0, 60));
        convId = c.id;
        this.set({ currentId: c.id, conversations: [c, ...this.state.conversations] });
        history.replaceState(null, "", "#/c/" + c.id);
      } catch (e) {
        this.failLocal(cmid, errorText(e));
        return;
      }
    }
    const model = this.state.models.some((m) => m.id === this.state.modelId) ? this.state.modelId : null;
    this.p = { cmid, text: t, conversationId: convId, messageId: null, userMessageId: null, lastSeq: 0, streamed: "", cancelRequested: false, sentAt: Date.now(), firstChunkAt: null, retries: 0, model, contextId };
    this.savePending();
    this.request();
  }

  /** Runs a diagnosis or prescription workflow in the open conversation (a
   * new one when none); `data` is seed 004's request (docs/workflows.md). */
  async runWorkflow(kind: WorkflowKind, data: Record<string, unknown>, summary: string): Promise<void> {
    if (this.p) return;
    const cmid = uuid();
    this.set({ error: null, pending: true });
    this.addLocalTurn(summary, cmid, kind);
    let convId = this.state.currentId;
    const contextId = convId ? null : (this.state.draftContext?.id ?? null);
    if (!convId) {
      try {
        const c = await rest.createConversation(kind === "diagnosis" ? "Diagnosis workflow" : "Prescription workflow");
        convId = c.id;
        this.set({ currentId: c.id, conversations: [c, ...this.state.conversations] });
        history.replaceState(null, "", "#/c/" + c.id);
      } catch (e) {
        this.failLocal(cmid, errorText(e));
        return;
      }
    }
    this.p = { cmid, text: summary, conversationId: convId, messageId: null, userMessageId: null, lastSeq: 0, streamed: "", cancelRequested: false, sentAt: Date.now(), firstChunkAt: null, retries: 0, model: null, contextId, workflow: { kind, data } };
    this.savePending();
    this.announce(`${kind === "diagnosis" ? "Diagnosis" : "Prescription"} workflow started.`);
    this.request();
  }

  private failLocal(cmid: string, error: string): void {
    this.patchMessage("local-a-" + cmid, { status: "error", phase: null, error });
    this.set({ pending: false });
  }

  /** Regenerate / retry: the same question as a new turn. */
  async resend(text: string): Promise<void> {
    await this.ask(text);
  }

  /** Stops the answer in flight (Esc, the Stop button). */
  cancel(): void {
    const p = this.p;
    if (!p) return;
    p.cancelRequested = true;
    if (p.messageId) this.socket.send({ type: "cancel", message_id: p.messageId });
    this.announce("Stopping the answer.");
  }

  /** On every (re)connection, and after a retryable error. */
  private request(): void {
    const p = this.p;
    if (!p) return;
    if (p.messageId) {
      this.socket.send({ type: "resume", message_id: p.messageId, last_seq: p.lastSeq });
    } else if (p.workflow) {
      const msg: Record<string, unknown> = { type: "workflow", workflow: p.workflow.kind, data: p.workflow.data, client_message_id: p.cmid, conversation_id: p.conversationId };
      if (p.contextId) msg.clinical_context_id = p.contextId;
      this.socket.send(msg);
    } else {
      const msg: Record<string, unknown> = { type: "message", text: p.text, client_message_id: p.cmid, conversation_id: p.conversationId };
      if (p.model) msg.model = p.model;
      if (p.contextId) msg.clinical_context_id = p.contextId;
      this.socket.send(msg);
    }
  }

  private onEvent(e: ServerEvent): void {
    const p = this.p;
    const mid = typeof e.message_id === "string" ? e.message_id : null;
    if (TELEMETRY_TYPES.has(e.type)) {
      this.set({ telemetry: [...this.state.telemetry, { at: Date.now(), messageId: mid, event: e }] });
    }
    switch (e.type) {
      case "connected":
        this.request();
        return;
      case "message_start":
        if (p && (e.client_message_id === p.cmid || (mid && mid === p.messageId))) this.onStart(p, e);
        return;
      case "tool_call":
        if (p && mid && mid === p.messageId) {
          this.patchMessage(mid, { phase: "searching" });
          this.announce("Searching the knowledge base.");
        }
        return;
      case "tool_result":
        if (p && mid && mid === p.messageId) this.patchMessage(mid, { phase: "writing" });
        return;
      case "workflow_progress":
        if (p && mid && mid === p.messageId) this.onWorkflowProgress(mid, e);
        return;
      case "workflow_item":
        if (p && mid && mid === p.messageId) this.onWorkflowItem(mid, e);
        return;
      case "message_chunk":
        if (p && mid === p.messageId) this.onChunk(p, e);
        return;
      case "message_complete":
        if (p && mid === p.messageId) this.onComplete(p, e);
        return;
      case "error":
        if (p && (!mid || mid === p.messageId)) this.onError(p, e);
        return;
    }
  }

  private onStart(p: Pending, e: ServerEvent): void {
    const mid = e.message_id as string;
    const uid = (e.user_message_id as string) || p.userMessageId;
    const localA = "local-a-" + p.cmid;
    const localU = "local-u-" + p.cmid;
    p.messageId = mid;
    p.userMessageId = uid;
    this.savePending();
    this.set({
      messages: this.state.messages.map((m) =>
        m.id === localA ? { ...m, id: mid, replyTo: uid, phase: m.phase === "sending" ? "searching" : m.phase } : m.id === localU && uid ? { ...m, id: uid } : m,
      ),
    });
    if (p.cancelRequested) this.socket.send({ type: "cancel", message_id: mid });
    if (p.contextId) {
      // The question bound the conversation to the draft context.
      p.contextId = null;
      this.set({ draftContext: null, contextVersion: this.state.contextVersion + 1 });
    }
  }

  private run(mid: string, kind: unknown): WorkflowRun | null {
    const m = this.state.messages.find((x) => x.id === mid);
    if (m?.workflow) return m.workflow;
    return isKind(kind) ? newRun(kind) : null;
  }

  private onWorkflowProgress(mid: string, e: ServerEvent): void {
    const run = this.run(mid, e.workflow);
    if (!run) return;
    const stage = typeof e.stage === "string" ? e.stage : "";
    const progress = typeof e.progress === "number" ? e.progress : 0;
    const message = typeof e.message === "string" ? e.message : "";
    if (run.stages.some((s) => s.stage === stage)) return; // a repeat after a resume
    this.patchMessage(mid, { workflow: { ...run, stages: [...run.stages, { stage, progress, message }] }, phase: "searching" });
    // Stage changes are announced; items are not (too many to hear).
    this.announce(`${stageLabel(run.kind, stage)}: ${progress}%.`);
  }

  private onWorkflowItem(mid: string, e: ServerEvent): void {
    const run = this.run(mid, e.workflow);
    const c = e.content;
    if (!run || !c || typeof c !== "object" || Array.isArray(c)) return;
    const stage = typeof e.stage === "string" ? e.stage : "";
    this.patchMessage(mid, { workflow: { ...run, items: [...run.items, { stage, content: c as Item }] } });
  }

  private onChunk(p: Pending, e: ServerEvent): void {
    const seq = Number(e.seq);
    const delta = typeof e.delta === "string" ? e.delta : "";
    if (!Number.isInteger(seq) || seq <= p.lastSeq) return; // already shown
    if (seq !== p.lastSeq + 1) {
      // A gap (should not happen on one connection): ask for what is missing.
      this.socket.send({ type: "resume", message_id: p.messageId, last_seq: p.lastSeq });
      return;
    }
    p.lastSeq = seq;
    p.streamed += delta;
    if (p.firstChunkAt === null) {
      p.firstChunkAt = Date.now();
      if (p.messageId && p.retries === 0 && p.sentAt) this.set({ ttft: { ...this.state.ttft, [p.messageId]: p.firstChunkAt - p.sentAt } });
    }
    this.patchMessage(p.messageId!, { content: p.streamed, phase: "writing" });
  }

  private onComplete(p: Pending, e: ServerEvent): void {
    const text = typeof e.text === "string" ? e.text : p.streamed;
    const status = (e.status as MessageStatus) || "complete";
    const disc = typeof e.disclaimer === "string" && e.disclaimer ? e.disclaimer : this.state.disclaimer;
    const wr = e.workflow_result && typeof e.workflow_result === "object" && !Array.isArray(e.workflow_result) ? (e.workflow_result as Item) : null;
    const kind = p.workflow?.kind ?? (wr && isKind(wr.workflow) ? wr.workflow : null);
    const run = kind ? (this.state.messages.find((m) => m.id === p.messageId)?.workflow ?? newRun(kind)) : null;
    this.patchMessage(p.messageId!, {
      workflow: run ? { ...run, result: wr ?? run.result } : undefined,
      content: text,
      status,
      citations: Array.isArray(e.citations) ? (e.citations as Citation[]) : [],
      finishReason: (e.finish_reason as string) ?? null,
      phase: null,
      usage: (e.usage as UiMessage["usage"]) ?? null,
      grounding: typeof e.grounding === "number" ? e.grounding : null,
    });
    this.clearPending();
    this.set({ pending: false, disclaimer: disc });
    const n = Array.isArray(e.citations) ? e.citations.length : 0;
    const first = text.replace(/\s+/g, " ").trim().slice(0, 160);
    if (run) {
      const r = wr ?? {};
      const head = kind === "diagnosis" ? `Diagnosis workflow complete${typeof r.primary_diagnosis === "string" ? `: ${r.primary_diagnosis}, urgency ${String(r.urgency ?? "not assessed")}` : ""}.` : "Prescription workflow complete.";
      this.announce(status === "cancelled" ? "Workflow stopped." : head);
      void this.loadConversations();
      return;
    }
    this.announce(
      status === "cancelled"
        ? "Answer stopped."
        : status === "complete"
          ? `Answer ready${n ? `, with ${n} source${n === 1 ? "" : "s"}` : ""}: ${first}`
          : `Answer ${status}.`,
    );
    // The conversation moved to the top of the list (updated_at).
    void this.loadConversations();
  }

  private onError(p: Pending, e: ServerEvent): void {
    if (e.retryable === true && p.retries < 5) {
      p.retries++;
      setTimeout(() => this.request(), 1000 * p.retries);
      return;
    }
    const msg = (e.message as string) || (e.code as string) || "The answer failed.";
    const id = p.messageId ?? "local-a-" + p.cmid;
    this.patchMessage(id, { status: "error", phase: null, error: msg });
    this.clearPending();
    this.set({ pending: false });
    this.announce("The answer failed: " + msg);
  }

  private patchMessage(id: string, patch: Partial<UiMessage>): void {
    if ("workflow" in patch && patch.workflow === undefined) delete patch.workflow;
    this.set({ messages: this.state.messages.map((m) => (m.id === id ? { ...m, ...patch } : m)) });
  }

  // ---- feedback ---------------------------------------------------------

  async feedback(messageId: string, rating: "up" | "down" | null, comment: string | null = null): Promise<void> {
    try {
      if (rating === null) {
        await rest.clearFeedback(messageId);
        this.patchMessage(messageId, { feedback: null });
      } else {
        const f = await rest.feedback(messageId, rating, comment && comment.trim() ? comment.trim() : null);
        this.patchMessage(messageId, { feedback: f });
        this.announce("Thanks: your feedback is saved.");
      }
    } catch (e) {
      this.set({ error: errorText(e) });
    }
  }

  // ---- the pending answer across reloads --------------------------------

  private savePending(): void {
    const p = this.p;
    if (!p) return;
    try {
      this.storage.setItem(PENDING_KEY, JSON.stringify({ cmid: p.cmid, text: p.text, conversationId: p.conversationId, messageId: p.messageId, userMessageId: p.userMessageId, model: p.model, contextId: p.contextId ?? null, workflow: p.workflow ?? null }));
    } catch {
      /* private mode: resume only within this page */
    }
  }

  private loadPending(): Pending | null {
    try {
      const raw = this.storage.getItem(PENDING_KEY);
      if (!raw) return null;
      const o = JSON.parse(raw);
      if (typeof o?.cmid !== "string" || typeof o?.conversationId !== "string" || typeof o?.text !== "string") return null;
      return { cmid: o.cmid, text: o.text, conversationId: o.conversationId, messageId: o.messageId ?? null, userMessageId: o.userMessageId ?? null, lastSeq: 0, streamed: "", cancelRequested: false, sentAt: 0, firstChunkAt: null, retries: 0, model: typeof o.model === "string" ? o.model : null, contextId: typeof o.contextId === "string" ? o.contextId : null, workflow: o.workflow && isKind(o.workflow.kind) && o.workflow.data && typeof o.workflow.data === "object" ? { kind: o.workflow.kind, data: o.workflow.data } : null };
    } catch {
      return null;
    }
  }

  private clearPending(): void {
    this.p = null;
    try {
      this.storage.removeItem(PENDING_KEY);
    } catch {
      /* nothing stored */
    }
    if (this.state.pending) this.set({ pending: false });
  }

  /** For the UI: the id of the message being answered, if any. */
  get pendingMessageId(): string | null {
    return this.p?.messageId ?? (this.p ? "local-a-" + this.p.cmid : null);
  }
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 0) return "The server cannot be reached.";
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}
