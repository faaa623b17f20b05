// The signed-in application: sidebar, conversation, composer, panels.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { currentUser, signOut } from "../api";
import { ChatStore } from "../chat";
import { FolderStore } from "../folders";
import type { Source } from "../citations";
import { useCountdown, useStore } from "../hooks";
import type { ChatSocket, ConnStatus } from "../socket";
import { Icon } from "./icons";
import { MessageView } from "./Message";
import { CitationsPanel, TelemetryPanel } from "./Panels";
import { PatientBanner } from "./Clinical";
import { downloadFile, savedStyle, saveStyle } from "./Cite";
import { ShareDialog } from "./Share";
import { Sidebar } from "./Sidebar";
import { WorkflowDialog } from "./Workflow";

const EXAMPLES = [
  "What are the symptoms of acromegaly?",
  "How is high blood pressure treated?",
  "What are the warning signs of a stroke?",
  "What causes chronic kidney disease?",
];

type Theme = "light" | "dark";

function systemTheme(): Theme {
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(t: Theme | null): void {
  document.documentElement.dataset.theme = t ?? systemTheme();
}

function ConnectionStatus({ status }: { status: ConnStatus }) {
  const left = useCountdown(status.state === "reconnecting" ? status.retryAt : undefined);
  let text: string;
  switch (status.state) {
    case "connected":
      text = "Connected";
      break;
    case "reconnecting":
      text = left > 0 ? `Reconnecting in ${left} s` : "Reconnecting…";
      break;
    case "offline":
      text = "Offline";
      break;
    case "connecting":
      text = "Connecting…";
      break;
    default:
      text = "Not connected";
  }
  return (
    <span class={"conn " + status.state} data-state={status.state} id="conn-status">
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

function useHashConversation(): string | null {
  const read = () => /^#\/c\/([0-9a-f-]{36})$/i.exec(location.hash)?.[1] ?? null;
  const [id, setId] = useState(read());
  useEffect(() => {
    const on = () => setId(read());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return id;
}

export function App({ socket }: { socket: ChatSocket }) {
  const store = useMemo(() => new ChatStore(socket), [socket]);
  const folders = useMemo(() => new FolderStore(store), [store]);
  const [sharing, setSharing] = useState(false);
  const [workflowOpen, setWorkflowOpen] = useState(false);
  const [style, setStyleState] = useState(savedStyle);
  const setStyle = (v: typeof style) => {
    saveStyle(v);
    setStyleState(v);
  };
  const [exportOpen, setExportOpen] = useState(false);
  const [exporting, setExporting] = useState<string | null>(null);
  const exportAs = async (format: "markdown" | "pdf") => {
    if (!s.currentId) return;
    setExportOpen(false);
    setExporting(format);
    try {
      await downloadFile(`/api/conversations/${s.currentId}/export?format=${format}&style=${style}`, `conversation-${s.currentId}.${format === "pdf" ? "pdf" : "md"}`);
    } catch (e) {
      store.showError("The export failed: " + (e instanceof Error ? e.message : String(e)));
    } finally {
      setExporting(null);
    }
  };
  const s = useStore(store, () => store.state);
  const [status, setStatus] = useState<ConnStatus>(socket.current);
  const [panel, setPanel] = useState<{ kind: "sources"; messageId: string; n: number | null } | { kind: "telemetry" } | null>(null);
  const [tip, setTip] = useState<{ s: Source; n: number; x: number; y: number } | null>(null);
  const [navOpen, setNavOpen] = useState(false);
  const [theme, setTheme] = useState<Theme | null>(() => (localStorage.getItem("medstream.theme") as Theme | null) || null);
  const [draft, setDraft] = useState("");
  const [connNote, setConnNote] = useState("");
  const searchRef = useRef<HTMLInputElement | null>(null);
  const composer = useRef<HTMLTextAreaElement>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const hashId = useHashConversation();
  const user = currentUser();

  useEffect(() => {
    void store.init(hashId);
    const offS = socket.onStatus((st) => {
      setStatus(st);
    });
    const online = () => socket.nudge();
    const offline = () => socket.wentOffline();
    addEventListener("online", online);
    addEventListener("offline", offline);
    const unload = () => store.dispose();
    addEventListener("pagehide", unload);
    return () => {
      offS();
      removeEventListener("online", online);
      removeEventListener("offline", offline);
      removeEventListener("pagehide", unload);
      store.dispose();
    };
  }, [store]);

  // Connection changes are announced once each, not every countdown tick.
  const lastState = useRef(status.state);
  useEffect(() => {
    const prev = lastState.current;
    lastState.current = status.state;
    if (prev === status.state) return;
    if (status.state === "reconnecting" && prev === "connected") setConnNote("Connection lost. Reconnecting.");
    else if (status.state === "offline") setConnNote("You are offline. medstream reconnects when the network is back.");
    else if (status.state === "connected" && prev !== "connecting" && prev !== "idle") setConnNote("Reconnected.");
  }, [status.state]);

  useEffect(() => {
    if (hashId && hashId !== store.state.currentId) void store.open(hashId);
    if (!hashId && store.state.currentId && !location.hash) store.newChat();
  }, [hashId]);

  useEffect(() => {
    const t = theme ?? null;
    applyTheme(t);
    if (t) localStorage.setItem("medstream.theme", t);
    else localStorage.removeItem("medstream.theme");
    if (t) return;
    const mq = matchMedia("(prefers-color-scheme: dark)");
    const on = () => applyTheme(null);
    mq.addEventListener("change", on);
    return () => mq.removeEventListener("change", on);
  }, [theme]);

  // Keyboard: Ctrl/Cmd+K search, Ctrl/Cmd+Shift+O new chat, Esc stops.
  useEffect(() => {
    const on = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && !e.shiftKey && e.key.toLowerCase() === "k") {
        e.preventDefault();
        setNavOpen(true);
        searchRef.current?.focus();
      } else if (mod && e.shiftKey && e.key.toLowerCase() === "o") {
        e.preventDefault();
        history.replaceState(null, "", location.pathname);
        store.newChat();
        composer.current?.focus();
      } else if (e.key === "Escape") {
        if (e.defaultPrevented || document.querySelector("dialog[open]")) return;
        if (store.state.pending) {
          e.preventDefault();
          store.cancel();
        } else if (exportOpen) setExportOpen(false);
        else if (tip) setTip(null);
        else if (panel) setPanel(null);
      }
    };
    addEventListener("keydown", on);
    return () => removeEventListener("keydown", on);
  }, [store, panel, tip, exportOpen]);

  // Follow the answer as it grows, unless the reader scrolled up.
  const atBottom = useRef(true);
  useEffect(() => {
    const el = scroller.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [s.messages]);

  const lastAssistant = [...s.messages].reverse().find((m) => m.role === "assistant");
  const currentTitle = s.conversations.find((c) => c.id === s.currentId)?.title;

  const send = (text: string) => {
    if (!text.trim() || s.pending) return;
    atBottom.current = true;
    void store.ask(text);
    setDraft("");
  };

  const cite = {
    hover: (src: Source, a: HTMLElement, n: number) => {
      const r = a.getBoundingClientRect();
      setTip({ s: src, n, x: Math.min(r.left, innerWidth - 340), y: r.bottom + 6 });
    },
    leave: () => setTip(null),
    open: (messageId: string, n: number | null) => {
      setTip(null);
      setPanel({ kind: "sources", messageId, n });
    },
  };

  const panelMsg = panel?.kind === "sources" ? s.messages.find((m) => m.id === panel.messageId) : lastAssistant;

  return (
    <div class={"app" + (panel ? " with-panel" : "")}>
      <a class="skip" href="#composer-input">Skip to the question box</a>
      <Sidebar store={store} folders={folders} searchRef={searchRef} open={navOpen} onNavigate={() => setNavOpen(false)}>
        <div class="account">
        <span class="avatar-round" aria-hidden="true">{(user?.email ?? "?").slice(0, 1).toUpperCase()}</span>
        <span class="who">
          <span class="sr-only">Signed in as </span>
          <span class="email">{user?.email}</span>
          <span class="role">{user?.role}</span>
        </span>
        <button type="button" class="icon-btn" aria-label="Sign out" title="Sign out" onClick={() => void signOut()}>
          <Icon name="logout" />
        </button>
      </div>
      </Sidebar>
      {navOpen && <div class="scrim" onClick={() => setNavOpen(false)} aria-hidden="true" />}
      <div class="main-col">
        <header class="topbar">
          <button type="button" class="icon-btn only-narrow" aria-label="Show conversations" aria-expanded={navOpen} onClick={() => setNavOpen(!navOpen)}>
            <Icon name="menu" />
          </button>
          <h1 class="conv-title">{s.currentId ? currentTitle ?? "Conversation" : "New chat"}</h1>
          <div class="top-tools">
            {s.models.length > 0 && (
              <div class="model-picker">
                <label for="model" class="sr-only">Model</label>
                <Icon name="chip" size={16} />
                <select id="model" value={s.modelId ?? ""} onChange={(e) => store.selectModel((e.target as HTMLSelectElement).value)} title={s.models.find((m) => m.id === s.modelId)?.description}>
                  {s.models.map((m) => (
                    <option key={m.id} value={m.id}>{m.name}{m.local ? " · local" : ""}</option>
                  ))}
                </select>
              </div>
            )}
            {s.currentId && !s.notFound && (
              <div class="export-menu">
                <button type="button" class="icon-btn" aria-label="Export" title="Export the conversation" aria-expanded={exportOpen} aria-controls="export-list" disabled={!!exporting} onClick={() => setExportOpen(!exportOpen)}>
                  <Icon name="download" />
                </button>
                {exportOpen && (
                  <ul id="export-list" class="menu" aria-label="Export as">
                    <li><button type="button" class="menu-item" onClick={() => void exportAs("markdown")}>Markdown (.md)</button></li>
                    <li><button type="button" class="menu-item" onClick={() => void exportAs("pdf")}>PDF</button></li>
                    <li class="menu-note">References in {style.toUpperCase()}</li>
                  </ul>
                )}
              </div>
            )}
            {s.currentId && !s.notFound && (
              <button type="button" class="icon-btn" aria-label="Share" title="Share a read-only link" onClick={() => setSharing(true)}>
                <Icon name="share" />
              </button>
            )}
            <ConnectionStatus status={status} />
            <button type="button" class={"icon-btn" + (panel?.kind === "telemetry" ? " on" : "")} aria-pressed={panel?.kind === "telemetry"} aria-label="Telemetry" title="Telemetry" onClick={() => setPanel(panel?.kind === "telemetry" ? null : { kind: "telemetry" })}>
              <Icon name="pulse" />
            </button>
            <button
              type="button"
              class="icon-btn"
              aria-label={(document.documentElement.dataset.theme === "dark" ? "Light" : "Dark") + " theme"}
              title="Toggle theme"
              onClick={() => setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark")}
            >
              <Icon name={document.documentElement.dataset.theme === "dark" ? "sun" : "moon"} />
            </button>
          </div>
        </header>
        {!s.notFound && <PatientBanner store={store} />}
        <main id="main" class="chat" ref={scroller} onScroll={(e) => {
          const el = e.currentTarget as HTMLElement;
          atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}>
          {s.error && (
            <div class="banner" role="alert">
              <Icon name="alert" size={16} /> {s.error}
            </div>
          )}
          {s.notFound && (
            <div class="empty">
              <h2>Conversation not found</h2>
              <p class="muted">It was deleted, or it belongs to another account.</p>
              <button type="button" class="btn primary" onClick={() => { history.replaceState(null, "", location.pathname); store.newChat(); }}>Start a new chat</button>
            </div>
          )}
          {!s.notFound && !s.messages.length && !s.loadingMessages && (
            <div class="empty">
              <h2>What would you like to look up?</h2>
              <p class="muted">Answers come from this server’s medical knowledge base, cite their sources, and stream in as they are written.</p>
              <ul class="examples" aria-label="Example questions">
                {EXAMPLES.map((q) => (
                  <li key={q}>
                    <button type="button" class="example" onClick={() => send(q)} disabled={s.pending}>
                      <span>{q}</span>
                      <Icon name="send" size={16} />
                    </button>
                  </li>
                ))}
              </ul>
            </div>
          )}
          <div class="thread">
            {s.messages.map((m) => (
              <MessageView key={m.id} m={m} store={store} disclaimer={s.disclaimer} isLast={m === lastAssistant} busy={s.pending} cite={cite} />
            ))}
          </div>
        </main>
        <form
          class="composer"
          aria-label="Ask a question"
          onSubmit={(e) => {
            e.preventDefault();
            send(draft);
          }}
        >
          <div class="composer-box">
            <label for="composer-input" class="sr-only">Your question</label>
            <textarea
              id="composer-input"
              ref={composer}
              rows={1}
              maxLength={8000}
              placeholder="Ask a clinical question…"
              value={draft}
              aria-describedby="composer-hint"
              onInput={(e) => {
                const el = e.target as HTMLTextAreaElement;
                setDraft(el.value);
                el.style.height = "auto";
                el.style.height = Math.min(240, el.scrollHeight) + "px";
              }}
              onKeyDown={(e) => {
                if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
                  e.preventDefault();
                  send(draft);
                }
              }}
            />
            <button type="button" class="btn ghost wf-open" disabled={s.pending} onClick={() => setWorkflowOpen(true)} title="Run a diagnosis or prescription workflow on this conversation">
              <Icon name="pulse" size={16} /> Workflow
            </button>
            {s.pending ? (
              <button type="button" class="btn stop" onClick={() => store.cancel()} aria-keyshortcuts="Escape">
                <Icon name="stop" size={16} /> Stop
              </button>
            ) : (
              <button type="submit" class="btn primary send" disabled={!draft.trim()} aria-label="Send">
                <Icon name="send" />
              </button>
            )}
          </div>
          <p id="composer-hint" class="hint">Enter to send · Shift+Enter for a new line · Esc to stop. Answers are for clinicians and do not replace clinical judgement.</p>
        </form>
      </div>
      {panel?.kind === "sources" && <CitationsPanel message={panelMsg} focus={panel.n} onClose={() => setPanel(null)} style={style} onStyle={setStyle} />}
      {panel?.kind === "telemetry" && <TelemetryPanel entries={s.telemetry} message={lastAssistant} ttft={lastAssistant ? s.ttft[lastAssistant.id] : undefined} onClose={() => setPanel(null)} />}
      {tip && (
        <div class="cite-tip" role="tooltip" ref={(el) => { if (el) { el.style.left = tip.x + "px"; el.style.top = tip.y + "px"; } }}>
          <strong>{tip.s.title}</strong>
          {tip.s.subtitles.length > 0 && <span>{tip.s.subtitles.join(" · ")}</span>}
          {tip.s.sourceName && <span>{tip.s.sourceName}</span>}
          <span class="muted">Click for the quoted passage</span>
        </div>
      )}
      {workflowOpen && (
        <WorkflowDialog
          store={store}
          onClose={() => {
            setWorkflowOpen(false);
            atBottom.current = true;
            composer.current?.focus();
          }}
        />
      )}
      {sharing && s.currentId && <ShareDialog conversationId={s.currentId} title={currentTitle ?? "Conversation"} onClose={() => setSharing(false)} />}
      {s.toast && (
        <div class="toast" role="status">
          <span>{s.toast.text}</span>
          {s.toast.undo && <button type="button" class="btn small" onClick={s.toast.undo}>Undo</button>}
          <button type="button" class="icon-btn" aria-label="Dismiss" onClick={() => store.dismissToast()}><Icon name="close" size={16} /></button>
        </div>
      )}
      <div class="sr-only" aria-live="polite" aria-atomic="true">{s.announcement}</div>
      <div class="sr-only" aria-live="polite" aria-atomic="true">{connNote}</div>
    </div>
  );
}
