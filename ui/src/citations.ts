// Citations as a reader wants them: one entry per source document, named
// by the server's citation fields (docs/protocol.md "Citation": `title` is
// the document's name, such as MedQuAD's focus "Gout", and `subtitle` the
// question type the passage answers, "Symptoms"), with every marker that
// points at it.

import type { Citation } from "./types";

/** The document's name as the server gives it; never empty. */
export function docTitle(title: string | null | undefined): string {
  const t = (title ?? "").trim().replace(/\s+/g, " ");
  return t || "Untitled source";
}

export interface Source {
  /** 1-based position in the merged list (what the panel shows). */
  key: string;
  title: string;
  url: string | null;
  sourceName: string | null;
  /** The distinct subtitles (what each cited passage is about), in order. */
  subtitles: string[];
  /** The citation indexes ([n] markers) that point here, ascending. */
  indexes: number[];
  /** The best relevance among them. */
  relevance: number | null;
  /** Distinct quoted passages, best first. */
  quotes: string[];
  citations: Citation[];
}

function sourceKey(c: Citation): string {
  if (c.url) return "u:" + c.url.replace(/[#?].*$/, "").replace(/\/+$/, "").toLowerCase();
  if (c.pmid) return "p:" + c.pmid;
  return "t:" + docTitle(c.title).toLowerCase() + "|" + (c.source_name ?? "");
}

/** Merges citations of the same document (same URL, PMID, or name and
 * source), keeping the order of first appearance. */
export function mergeSources(citations: Citation[]): Source[] {
  const byKey = new Map<string, Source>();
  const sorted = [...citations].sort((a, b) => a.index - b.index);
  for (const c of sorted) {
    const k = sourceKey(c);
    let s = byKey.get(k);
    if (!s) {
      s = { key: k, title: docTitle(c.title), url: c.url || null, sourceName: c.source_name || null, subtitles: [], indexes: [], relevance: null, quotes: [], citations: [] };
      byKey.set(k, s);
    }
    s.indexes.push(c.index);
    const sub = (c.subtitle ?? "").trim();
    if (sub && !s.subtitles.includes(sub)) s.subtitles.push(sub);
    s.citations.push(c);
    if (c.relevance_score != null && (s.relevance == null || c.relevance_score > s.relevance)) s.relevance = c.relevance_score;
    const q = (c.quoted_text ?? "").trim();
    if (q && !s.quotes.includes(q)) s.quotes.push(q);
  }
  return [...byKey.values()];
}

/** The merged source a marker n belongs to. */
export function sourceOf(sources: Source[], n: number): Source | undefined {
  return sources.find((s) => s.indexes.includes(n));
}

/** Relevance as a 0..100 share: the server's relevance_score already is
 * one (docs/protocol.md "Citation", seed 002), so it is only rounded and
 * kept within 0..100. */
export function relevancePercent(score: number | null): number | null {
  if (score == null || !Number.isFinite(score)) return null;
  return Math.round(Math.min(100, Math.max(0, score)));
}

/** A safe external link: http(s) only. */
export function safeUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}
