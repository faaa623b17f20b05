// The right-hand panels: the sources of an answer, and live telemetry.

import { useEffect, useRef } from "preact/hooks";
import type { TelemetryEntry, UiMessage } from "../chat";
import { mergeSources, relevancePercent, safeUrl } from "../citations";
import type { CitationStyle } from "../types";
import { References } from "./Cite";
import { Icon } from "./icons";

export function CitationsPanel({ message, focus, onClose, style, onStyle }: { message: UiMessage | undefined; focus: number | null; onClose: () => void; style: CitationStyle; onStyle: (s: CitationStyle) => void }) {
  const sources = message ? mergeSources(message.citations) : [];
  const root = useRef<HTMLElement>(null);
  useEffect(() => {
    const el = root.current;
    if (!el) return;
    const target = (focus != null && el.querySelector<HTMLElement>(`[data-indexes~="${focus}"] h3`)) || el.querySelector<HTMLElement>("h2");
    target?.focus();
    target?.scrollIntoView({ block: "nearest" });
  }, [message?.id, focus]);
  return (
    <aside class="panel" aria-labelledby="cp-title" ref={root}>
      <div class="panel-head">
        <h2 id="cp-title" tabIndex={-1}>Sources</h2>
        <button type="button" class="icon-btn" aria-label="Close sources" onClick={onClose}><Icon name="close" /></button>
      </div>
      {!sources.length && <p class="muted pad">This answer cites no sources.</p>}
      <ol class="source-list">
        {sources.map((s) => {
          const url = safeUrl(s.url);
          const pct = relevancePercent(s.relevance);
          return (
            <li key={s.key} data-indexes={s.indexes.join(" ")} class={focus != null && s.indexes.includes(focus) ? "focused" : ""}>
              <div class="source-top">
                <span class="num" aria-label={`Marker${s.indexes.length > 1 ? "s" : ""} ${s.indexes.join(", ")}`}>{s.indexes.join(", ")}</span>
                <h3 tabIndex={-1}>{s.title}</h3>
              </div>
              {s.subtitles.length > 0 && <p class="subtitle">{s.subtitles.join(" · ")}</p>}
              <p class="meta">
                {s.sourceName && <span>{s.sourceName}</span>}
                {pct != null && (
                  <span class="relevance">
                    Relevance <span class="bar" aria-hidden="true"><span ref={(el) => { if (el) el.style.width = pct + "%"; }} /></span> {pct}%
                  </span>
                )}
              </p>
              {url && (
                <a class="src-url" href={url} target="_blank" rel="noopener noreferrer">
                  {url.replace(/^https?:\/\//, "").replace(/\/$/, "")} <Icon name="external" size={14} />
                  <span class="sr-only"> (opens in a new tab)</span>
                </a>
              )}
              {s.quotes.map((q, i) => (
                <blockquote key={i}>{q}</blockquote>
              ))}
            </li>
          );
        })}
      </ol>
      {message && sources.length > 0 && message.status !== "streaming" && !message.id.startsWith("local-") && <References messageId={message.id} style={style} onStyle={onStyle} />}
    </aside>
  );
}

function ms(v: unknown): string {
  const n = Number(v);
  if (!Number.isFinite(n)) return "—";
  return n < 10 ? n.toFixed(2) + " ms" : n < 1000 ? Math.round(n) + " ms" : (n / 1000).toFixed(2) + " s";
}

function str(v: unknown, fallback: string): string {
  return typeof v === "string" && v ? v : fallback;
}

/** A 0..1 share as a whole percentage; "—" when not measured (null). */
export function pct(v: unknown): string {
  return typeof v === "number" && Number.isFinite(v) ? Math.round(v * 100) + "%" : "—";
}

function num(v: unknown): string {
  return typeof v === "number" && Number.isFinite(v) ? v.toLocaleString() : "—";
}

/** One event as a line of the panel. Known types get their own rendering;
 * anything else the server sends is shown as it came. */
export function TelemetryRow({ t, start }: { t: TelemetryEntry; start: number }) {
  const e = t.event;
  const rel = "+" + ((t.at - start) / 1000).toFixed(2) + " s";
  let title: string;
  let detail: preact.ComponentChildren = null;
  switch (e.type) {
    case "tool_call": {
      const a = (e.arguments ?? {}) as { query?: string; k?: number };
      title = `Tool call · ${String(e.name ?? "tool")}`;
      detail = (
        <>
          {a.query && <span>query “{a.query}”</span>}
          {a.k != null && <span>k = {a.k}</span>}
        </>
      );
      break;
    }
    case "tool_result": {
      const r = (e.result ?? {}) as { count?: number; top?: { title?: string; score?: number }[] };
      title = `Tool result · ${String(e.name ?? "tool")}`;
      detail = (
        <>
          <span>{num(r.count)} passages</span>
          <span>{ms(e.duration_ms)}</span>
          {Array.isArray(r.top) && r.top.length > 0 && (
            <ul class="top">
              {r.top.slice(0, 5).map((x, i) => (
                <li key={i}>
                  <span>{x.title || "Untitled passage"}</span> <span class="score">{typeof x.score === "number" ? x.score.toFixed(2) : ""}</span>
                </li>
              ))}
            </ul>
          )}
        </>
      );
      break;
    }
    case "llm_call":
      title = `LLM call · ${str(e.provider, "provider")} · ${str(e.model, "model")}`;
      detail = (
        <>
          <span>{e.local === true ? "local" : e.local === false ? "remote" : "—"}</span>
          <span>attempt {num(e.attempt)}</span>
        </>
      );
      break;
    case "llm_result":
      title = `LLM result · ${str(e.provider, "provider")} · ${str(e.model, "model")}`;
      detail = (
        <>
          <span>prompt {num(e.prompt_tokens)} tok</span>
          <span>completion {num(e.completion_tokens)} tok</span>
          <span>TTFT {e.ttft_ms == null ? "—" : ms(e.ttft_ms)}</span>
          <span>total {ms(e.duration_ms)}</span>
          <span>finish {str(e.finish_reason, "—")}</span>
          <span>grounding {pct(e.grounding)}</span>
          {typeof e.error === "string" && e.error && <span class="tel-error">{e.error}</span>}
        </>
      );
      break;
    case "routing": {
      const cats = Array.isArray(e.categories) ? (e.categories as unknown[]).filter((c) => typeof c === "string") : [];
      title = `Routing · ${str(e.decision, "decision")}`;
      detail = (
        <>
          <span>PHI {e.phi_detected === true ? "detected" : e.phi_detected === false ? "none" : "—"}</span>
          {cats.length > 0 && <span>{cats.join(", ")}</span>}
        </>
      );
      break;
    }
    default:
      title = e.type;
      detail = <code>{JSON.stringify(e).slice(0, 300)}</code>;
  }
  return (
    <li class={"tel " + e.type.replace(/[^a-z_]/g, "")}>
      <div class="tel-head">
        <span class="tel-title">{title}</span>
        <span class="tel-time">{rel}</span>
      </div>
      {detail && <div class="tel-detail">{detail}</div>}
    </li>
  );
}

export function TelemetryPanel({ entries, message, ttft, onClose }: { entries: TelemetryEntry[]; message: UiMessage | undefined; ttft: number | undefined; onClose: () => void }) {
  const mine = message ? entries.filter((t) => t.messageId === message.id) : entries;
  const start = mine[0]?.at ?? 0;
  const tool = mine.find((t) => t.event.type === "tool_result")?.event;
  const llm = mine.filter((t) => t.event.type === "llm_result").map((t) => t.event);
  // The grounding share: the answer's (message_complete / the stored
  // message), else the latest model call's; null from the offline answerer.
  const lastLlm = llm[llm.length - 1];
  const grounding = typeof message?.grounding === "number" ? message.grounding : lastLlm && typeof lastLlm.grounding === "number" ? lastLlm.grounding : null;
  const usage = message?.usage;
  return (
    <aside class="panel telemetry" aria-labelledby="tp-title">
      <div class="panel-head">
        <h2 id="tp-title" tabIndex={-1}>Telemetry</h2>
        <button type="button" class="icon-btn" aria-label="Close telemetry" onClick={onClose}><Icon name="close" /></button>
      </div>
      <p class="muted pad">{message ? "The latest answer, live, in the order the server sent it." : "Ask a question to see its events."}</p>
      <dl class="stats">
        <div><dt>Retrieval</dt><dd>{tool ? ms(tool.duration_ms) : "—"}</dd></div>
        <div><dt>Passages</dt><dd>{tool ? num((tool.result as { count?: number })?.count) : "—"}</dd></div>
        <div><dt>First token</dt><dd title="Measured in this browser, from sending to the first chunk">{ttft != null ? ms(ttft) : "—"}</dd></div>
        <div><dt>Tokens</dt><dd>{usage ? `${num(usage.prompt_tokens)} → ${num(usage.completion_tokens)}` : "—"}</dd></div>
        <div><dt>LLM calls</dt><dd>{llm.length || "—"}</dd></div>
        <div><dt>Grounding</dt><dd title="The share of the answer's sentences supported by the cited passages (not measured for the offline answerer)">{pct(grounding)}</dd></div>
      </dl>
      <ol class="tel-list" aria-label="Events">
        {mine.map((t, i) => (
          <TelemetryRow key={i} t={t} start={start} />
        ))}
      </ol>
      {!mine.length && <p class="muted pad">No events yet.</p>}
    </aside>
  );
}
