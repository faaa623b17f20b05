// Citation styles and exports (docs/protocol.md "Citations", "Exports"):
// the style chooser and the formatted reference list of an answer, copy as
// BibTeX or RIS, and the conversation's Markdown and PDF downloads. The
// server formats everything; the page only shows it (through the same
// sanitiser as answers).

import { useEffect, useMemo, useState } from "preact/hooks";
import { authFetch, rest } from "../api";
import { errorText } from "../chat";
import { renderMarkdown } from "../markdown";
import type { CitationStyle, FormattedCitations } from "../types";
import { Icon } from "./icons";

export const STYLES: [CitationStyle, string][] = [
  ["apa", "APA 7"],
  ["mla", "MLA 9"],
  ["chicago", "Chicago 17 (author-date)"],
  ["vancouver", "Vancouver (ICMJE/NLM)"],
  ["ama", "AMA 11"],
];

const KEY = "medstream.citationStyle";

/** The reader's style, kept across reloads (APA, the server's default, first). */
export function savedStyle(): CitationStyle {
  const v = localStorage.getItem(KEY);
  return STYLES.some(([s]) => s === v) ? (v as CitationStyle) : "apa";
}

export function saveStyle(s: CitationStyle): void {
  localStorage.setItem(KEY, s);
}

/** Fetches a file with the access token and hands it to the browser as a
 * download under the server's file name (Content-Disposition) or `name`. */
export async function downloadFile(path: string, name: string): Promise<void> {
  const r = await authFetch(path);
  if (!r.ok) {
    let msg = `HTTP ${r.status}`;
    try {
      msg = (await r.json())?.error?.message ?? msg;
    } catch {
      /* not JSON */
    }
    throw new Error(msg);
  }
  const cd = r.headers.get("Content-Disposition") ?? "";
  const m = /filename="([^"]+)"/.exec(cd);
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = m?.[1] ?? name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function StyleSelect({ id, style, onStyle }: { id: string; style: CitationStyle; onStyle: (s: CitationStyle) => void }) {
  return (
    <div class="style-select">
      <label for={id}>Citation style</label>
      <select id={id} value={style} onChange={(e) => onStyle((e.target as HTMLSelectElement).value as CitationStyle)}>
        {STYLES.map(([v, t]) => (
          <option key={v} value={v}>{t}</option>
        ))}
      </select>
    </div>
  );
}

/** An answer's references in the chosen style, with copy as text, BibTeX and RIS. */
export function References({ messageId, style, onStyle }: { messageId: string; style: CitationStyle; onStyle: (s: CitationStyle) => void }) {
  const [data, setData] = useState<FormattedCitations | null>(null);
  const [error, setError] = useState("");
  const [copied, setCopied] = useState("");
  useEffect(() => {
    let live = true;
    setError("");
    rest
      .citations(messageId, style)
      .then((d) => live && setData(d))
      .catch((e) => live && setError(errorText(e)));
    return () => {
      live = false;
    };
  }, [messageId, style]);
  const html = useMemo(() => (data ? renderMarkdown(data.bibliography.markdown) : ""), [data]);

  async function copy(what: "text" | "bibtex" | "ris") {
    setError("");
    try {
      let text: string;
      if (what === "text") text = data?.bibliography.text ?? "";
      else {
        const r = await authFetch(`/api/messages/${messageId}/citations?style=${style}&format=${what}`);
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        text = await r.text();
      }
      await navigator.clipboard.writeText(text);
      setCopied(what);
      setTimeout(() => setCopied(""), 2000);
    } catch (e) {
      setError(errorText(e));
    }
  }

  return (
    <section class="references" aria-labelledby="refs-h">
      <div class="refs-head">
        <h3 id="refs-h">{data?.bibliography.title ?? "References"}</h3>
        <StyleSelect id="cite-style" style={style} onStyle={onStyle} />
      </div>
      {error && <p class="form-error" role="alert">{error}</p>}
      {data && !data.bibliography.entries.length && <p class="muted">No references.</p>}
      {data && data.bibliography.entries.length > 0 && <div class="refs-body prose" data-style={data.style} dangerouslySetInnerHTML={{ __html: html }} />}
      {data && data.bibliography.entries.length > 0 && (
        <div class="refs-actions">
          <button type="button" class="btn small" onClick={() => void copy("text")}>
            <Icon name={copied === "text" ? "check" : "copy"} size={14} /> {copied === "text" ? "Copied" : "Copy references"}
          </button>
          <button type="button" class="btn small" onClick={() => void copy("bibtex")}>
            <Icon name={copied === "bibtex" ? "check" : "copy"} size={14} /> {copied === "bibtex" ? "Copied" : "Copy as BibTeX"}
          </button>
          <button type="button" class="btn small" onClick={() => void copy("ris")}>
            <Icon name={copied === "ris" ? "check" : "copy"} size={14} /> {copied === "ris" ? "Copied" : "Copy as RIS"}
          </button>
        </div>
      )}
      <p class="sr-only" aria-live="polite">{copied ? "Copied to the clipboard." : ""}</p>
    </section>
  );
}
