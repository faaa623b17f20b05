// Citations as a reader wants them: one entry per source document, named
// by the document (MedQuAD stores the question a passage answers as its
// title: "What is (are) Gout ?"), with every marker that points at it.

import type { Citation } from "./types";

// MedQuAD's question templates (Ben Abacha & Demner-Fushman 2019, table 2:
// question types per source), longest first so the most specific wins.
const QUESTION_PATTERNS: RegExp[] = [
  /^what (?:is|are) the (?:genetic changes|symptoms|signs|treatments?|causes?|complications|stages|risk factors|outlook|prognosis|side effects|dosage forms?) (?:related to|of|for|from) (.+?)\s*\??$/i,
  /^what (?:is|are) \(are\) (.+?)\s*\??$/i,
  /^what (?:is|are) (.+?)\s*\??$/i,
  /^how many people are affected by (.+?)\s*\??$/i,
  /^(?:how|where) (?:to|can i|do i|should i) (?:diagnose|prevent|treat|find support for|learn more about|find information about) (.+?)\s*\??$/i,
  /^how (?:is|are) (.+?) (?:diagnosed|treated|inherited|prevented|spread|transmitted)\s*\??$/i,
  /^(?:is|are) (.+?) inherited\s*\??$/i,
  /^who (?:is|are) at risk for (.+?)\s*\??$/i,
  /^what to do for (.+?)\s*\??$/i,
  /^what causes (.+?)\s*\??$/i,
  /^what research \(or clinical trials\) is being done for (.+?)\s*\??$/i,
  /^do you have information about (.+?)\s*\??$/i,
  /^what (?:should i know|special precautions should i follow|side effects can this medication cause|other information should i know) (?:about|before taking|when taking)? ?(.+?)\s*\??$/i,
];

/** The document's name from a citation title: a MedQuAD question becomes
 * its focus ("What is (are) Gout ?" → "Gout"); other titles are kept. */
export function docTitle(title: string | null | undefined): string {
  const t = (title ?? "").trim().replace(/\s+/g, " ");
  if (!t) return "Untitled source";
  if (!t.endsWith("?")) return t;
  for (const re of QUESTION_PATTERNS) {
    const m = re.exec(t);
    if (m && m[1] && m[1].length >= 2) {
      let name = m[1].replace(/\?+$/, "").trim();
      name = name.replace(/^(?:the|a|an) /i, "");
      return name.charAt(0).toUpperCase() + name.slice(1);
    }
  }
  return t;
}

export interface Source {
  /** 1-based position in the merged list (what the panel shows). */
  key: string;
  title: string;
  url: string | null;
  sourceName: string | null;
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
      s = { key: k, title: docTitle(c.title), url: c.url || null, sourceName: c.source_name || null, indexes: [], relevance: null, quotes: [], citations: [] };
      byKey.set(k, s);
    }
    s.indexes.push(c.index);
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
