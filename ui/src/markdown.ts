// Model output to safe HTML. Two independent layers, so that neither alone
// has to be perfect: markdown-it with raw HTML off (tags come out as text)
// and its link validator (no javascript:, vbscript:, file: or data: URLs),
// then DOMPurify over the result with an allow-list of tags and attributes.
// Images are not rendered at all (an answer must not make the browser fetch
// anything). Citation markers "[n]" become links to the source n.

import DOMPurify from "dompurify";
import MarkdownIt, { type StateInline } from "markdown-it";

const md = new MarkdownIt({ html: false, linkify: false, typographer: false, breaks: false });
md.disable(["image"]);

// [n] (or [n, m] / [n][m]) where n is a citation index: a superscript link.
function citeRule(state: StateInline, silent: boolean): boolean {
  const src = state.src;
  const start = state.pos;
  if (src.charCodeAt(start) !== 0x5b /* [ */) return false;
  const m = /^\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/.exec(src.slice(start, start + 40));
  if (!m) return false;
  // Not a link's text: "[1](http://...)" stays a link.
  if (src.charCodeAt(start + m[0].length) === 0x28 /* ( */) return false;
  if (!silent) {
    for (const n of m[1].split(",")) {
      const tok = state.push("cite", "", 0);
      tok.meta = { n: Number(n.trim()) };
    }
  }
  state.pos += m[0].length;
  return true;
}
md.inline.ruler.before("link", "cite", citeRule);
md.renderer.rules.cite = (tokens, idx) => {
  const n = (tokens[idx].meta as { n: number }).n;
  return `<a class="cite" href="#cite-${n}" data-cite="${n}" aria-label="Source ${n}">${n}</a>`;
};

const ALLOWED_TAGS = [
  "p", "br", "strong", "em", "b", "i", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li",
  "h1", "h2", "h3", "h4", "h5", "h6", "hr", "a", "table", "thead", "tbody", "tr", "th", "td", "sup", "sub",
];
const ALLOWED_ATTR = ["href", "title", "class", "data-cite", "aria-label", "start", "align"];

let hooked = false;
function purifier(): typeof DOMPurify {
  if (!hooked) {
    hooked = true;
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.nodeName === "A") {
        const href = node.getAttribute("href") ?? "";
        if (href.startsWith("#cite-")) return;
        if (!/^https?:\/\//i.test(href) && !/^mailto:/i.test(href)) {
          node.removeAttribute("href");
          return;
        }
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
      if (node.hasAttribute("class") && node.nodeName !== "A") node.removeAttribute("class");
      else if (node.nodeName === "A" && node.getAttribute("class") !== "cite") node.removeAttribute("class");
    });
  }
  return DOMPurify;
}

/** Renders model Markdown as sanitized HTML (a string for innerHTML). */
export function renderMarkdown(text: string): string {
  const html = md.render(text);
  return purifier().sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: [...ALLOWED_ATTR, "target", "rel"],
    ALLOW_DATA_ATTR: true, // markdown-it with html off makes none; only the cite renderer does
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#cite-\d+$)/i,
  }) as string;
}

/** Splits an answer into its body and the trailing disclaimer. While a
 * stream is still arriving, a partial disclaimer at the end is held back too,
 * so it never flashes inside the answer. */
export function splitDisclaimer(text: string, disclaimer: string, streaming = false): { body: string; disclaimer: boolean } {
  const d = disclaimer.trim();
  if (!d) return { body: text, disclaimer: false };
  const at = text.lastIndexOf(d);
  if (at >= 0 && text.slice(at + d.length).trim() === "") return { body: text.slice(0, at).trimEnd(), disclaimer: true };
  if (streaming) {
    const max = Math.min(d.length - 1, text.length);
    for (let k = max; k >= 1; k--) {
      if (text.endsWith(d.slice(0, k))) return { body: text.slice(0, text.length - k).trimEnd(), disclaimer: false };
    }
  }
  return { body: text, disclaimer: false };
}
