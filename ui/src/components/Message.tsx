// One message. An answer renders as sanitized Markdown while it streams,
// with its phase ("Searching the knowledge base…", "Writing the answer…"),
// numbered citation markers that link to their sources, the disclaimer
// apart from the text, and its actions.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ChatStore, UiMessage } from "../chat";
import { mergeSources, sourceOf, type Source } from "../citations";
import { renderMarkdown, splitDisclaimer } from "../markdown";
import { Attachments } from "./Attachments";
import { Icon } from "./icons";
import { WorkflowView } from "./Workflow";

export interface CiteHandlers {
  hover(source: Source, anchor: HTMLElement, n: number): void;
  leave(): void;
  open(messageId: string, n: number | null): void;
}

interface Props {
  m: UiMessage;
  store: ChatStore;
  disclaimer: string;
  isLast: boolean;
  busy: boolean;
  cite: CiteHandlers;
}

const statusNotes: Record<string, string> = {
  cancelled: "Stopped. The answer above is incomplete.",
  interrupted: "Interrupted: the server stopped while writing. The text above is what was saved.",
};

export function MessageView(props: Props) {
  return props.m.role === "user" ? <UserMessage {...props} /> : <AssistantMessage {...props} />;
}

function UserMessage({ m, store, busy }: Props) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(m.content);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (editing) ref.current?.focus();
  }, [editing]);
  if (editing) {
    const send = () => {
      setEditing(false);
      if (text.trim()) void store.resend(text);
    };
    return (
      <article class="msg user editing" aria-label="Edit your question">
        <label class="sr-only" for={"edit-" + m.id}>Edit your question</label>
        <textarea
          id={"edit-" + m.id}
          ref={ref}
          value={text}
          rows={3}
          maxLength={8000}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              send();
            }
            if (e.key === "Escape") setEditing(false);
          }}
        />
        <div class="edit-actions">
          <button type="button" class="btn ghost" onClick={() => setEditing(false)}>Cancel</button>
          <button type="button" class="btn primary" disabled={busy || !text.trim()} onClick={send}>Send</button>
        </div>
      </article>
    );
  }
  return (
    <article class="msg user" aria-label="Question" data-message-id={m.id}>
      <div class="bubble">{m.content}</div>
      {!m.id.startsWith("local-") && <Attachments messageId={m.id} canAttach />}
      <div class="actions">
        <CopyButton text={m.content} label="Copy question" />
        <button type="button" class="icon-btn" title="Edit and resend" aria-label="Edit and resend" disabled={busy} onClick={() => { setText(m.content); setEditing(true); }}>
          <Icon name="edit" size={16} />
        </button>
      </div>
    </article>
  );
}

function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="icon-btn"
      title={done ? "Copied" : label}
      aria-label={done ? "Copied" : label}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setDone(true);
          setTimeout(() => setDone(false), 1500);
        } catch {
          /* clipboard refused (insecure context) */
        }
      }}
    >
      <Icon name={done ? "check" : "copy"} size={16} />
    </button>
  );
}

function AssistantMessage({ m, store, disclaimer, isLast, busy, cite }: Props) {
  const streaming = m.status === "streaming";
  const { body } = splitDisclaimer(m.content, disclaimer, streaming);
  const html = useMemo(() => renderMarkdown(body), [body]);
  const sources = useMemo(() => mergeSources(m.citations), [m.citations]);
  const bodyRef = useRef<HTMLDivElement>(null);

  // Markers name their source for assistive technology once it is known.
  useEffect(() => {
    const el = bodyRef.current;
    if (!el) return;
    for (const a of el.querySelectorAll<HTMLAnchorElement>("a.cite")) {
      const n = Number(a.dataset.cite);
      const s = sourceOf(sources, n);
      a.setAttribute("aria-label", s ? `Source ${n}: ${s.title}` : `Source ${n}`);
      a.classList.toggle("unknown", !s);
    }
  }, [html, sources]);

  const onOver = (e: Event) => {
    const a = (e.target as HTMLElement).closest?.("a.cite") as HTMLAnchorElement | null;
    if (!a) return;
    const n = Number(a.dataset.cite);
    const s = sourceOf(sources, n);
    if (s) cite.hover(s, a, n);
  };
  const onClick = (e: MouseEvent) => {
    const a = (e.target as HTMLElement).closest?.("a.cite") as HTMLAnchorElement | null;
    if (!a) return;
    e.preventDefault();
    cite.open(m.id, Number(a.dataset.cite));
  };

  const wf = m.workflow ?? null;
  const phase = streaming && !body && !wf ? m.phase : null;
  // A workflow's card shows the disclaimer itself.
  const showDisclaimer = !streaming && disclaimer && m.status !== "error" && !wf?.result;

  const prose = body && (
    <div
      class={"prose" + (streaming ? " caret" : "")}
      ref={bodyRef}
      onMouseOver={onOver}
      onFocusIn={onOver}
      onMouseOut={(e) => {
        if ((e.target as HTMLElement).closest?.("a.cite")) cite.leave();
      }}
      onFocusOut={() => cite.leave()}
      onClick={onClick}
      dangerouslySetInnerHTML={{ __html: html }}
    />
  );

  return (
    <article class={"msg assistant" + (streaming ? " streaming" : "")} aria-label="Answer" aria-busy={streaming ? "true" : "false"} data-status={m.status} data-message-id={m.id}>
      <div class="avatar" aria-hidden="true"><Icon name="book" size={16} /></div>
      <div class="answer">
        {phase && (
          <p class="phase">
            <span class="spinner" aria-hidden="true" />
            {phase === "searching" || phase === "sending" ? "Searching the knowledge base…" : "Writing the answer…"}
          </p>
        )}
        {wf && streaming && !wf.stages.length && (
          <p class="phase">
            <span class="spinner" aria-hidden="true" />
            Starting the {wf.kind} workflow…
          </p>
        )}
        {wf && (streaming || wf.stages.length > 0 || wf.items.length > 0 || wf.result) && <WorkflowView run={wf} disclaimer={disclaimer} />}
        {wf ? (
          body && !streaming && (
            <details class="wf-summary">
              <summary>Text summary</summary>
              {prose}
            </details>
          )
        ) : (
          prose
        )}
        {statusNotes[m.status] && <p class={"note " + m.status}>{statusNotes[m.status]}</p>}
        {m.status === "error" && (
          <div class="note error" role="alert">
            <Icon name="alert" size={16} /> {m.error || "The answer failed."}
            {m.question && (
              <button type="button" class="btn small" disabled={busy} onClick={() => void store.resend(m.question!)}>Retry</button>
            )}
          </div>
        )}
        {m.finishReason === "no_context" && !streaming && <p class="note">Nothing in the knowledge base matched this question closely enough to answer it.</p>}
        {showDisclaimer && (
          <aside class="disclaimer" aria-label="Medical disclaimer">
            <Icon name="shield" size={16} />
            <p>{disclaimer}</p>
          </aside>
        )}
        {sources.length > 0 && !wf && (
          <div class="sources">
            <h2>Sources</h2>
            <ol>
              {sources.map((s) => (
                <li key={s.key}>
                  <button type="button" class="source-chip" onClick={() => cite.open(m.id, s.indexes[0])} aria-label={`Source ${s.indexes.join(", ")}: ${s.title}${s.subtitles.length ? " (" + s.subtitles.join(", ") + ")" : ""}${s.sourceName ? ", " + s.sourceName : ""}. Show details`}>
                    <span class="num">{s.indexes.join(", ")}</span>
                    <span class="t">{s.title}</span>
                    {s.subtitles.length > 0 && <span class="sub">{s.subtitles.join(" · ")}</span>}
                    {s.sourceName && <span class="src">{s.sourceName}</span>}
                  </button>
                </li>
              ))}
            </ol>
          </div>
        )}
        {!streaming && (
          <div class="actions">
            <CopyButton text={body} label="Copy answer" />
            {isLast && m.question && (
              <button type="button" class="icon-btn" title="Regenerate" aria-label="Regenerate the answer" disabled={busy} onClick={() => void store.resend(m.question!)}>
                <Icon name="refresh" size={16} />
              </button>
            )}
            {!m.id.startsWith("local-") && m.status !== "error" && <FeedbackButtons m={m} store={store} />}
          </div>
        )}
      </div>
    </article>
  );
}

function FeedbackButtons({ m, store }: { m: UiMessage; store: ChatStore }) {
  const rating = m.feedback?.rating ?? null;
  const [asking, setAsking] = useState<"up" | "down" | null>(null);
  const [comment, setComment] = useState(m.feedback?.comment ?? "");
  const choose = (r: "up" | "down") => {
    if (rating === r && !asking) {
      void store.feedback(m.id, null);
      return;
    }
    void store.feedback(m.id, r, comment || null);
    setAsking(r);
  };
  return (
    <>
      <button type="button" class={"icon-btn" + (rating === "up" ? " on" : "")} aria-pressed={rating === "up"} aria-label="Helpful" title="Helpful" onClick={() => choose("up")}>
        <Icon name="up" size={16} />
      </button>
      <button type="button" class={"icon-btn" + (rating === "down" ? " on" : "")} aria-pressed={rating === "down"} aria-label="Not helpful" title="Not helpful" onClick={() => choose("down")}>
        <Icon name="down" size={16} />
      </button>
      {asking && (
        <form
          class="feedback-form"
          onSubmit={(e) => {
            e.preventDefault();
            void store.feedback(m.id, asking, comment || null);
            setAsking(null);
          }}
        >
          <label for={"fb-" + m.id}>{asking === "up" ? "What was helpful? (optional)" : "What was wrong or missing? (optional)"}</label>
          <textarea id={"fb-" + m.id} rows={2} maxLength={2000} value={comment} onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} />
          <div class="edit-actions">
            <button type="button" class="btn ghost small" onClick={() => setAsking(null)}>Skip</button>
            <button type="submit" class="btn primary small">Send feedback</button>
          </div>
        </form>
      )}
    </>
  );
}

