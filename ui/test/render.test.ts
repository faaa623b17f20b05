// Model output can never inject HTML or script: hostile Markdown through
// renderMarkdown, then into a real DOM (jsdom) to look at what it became.

import { describe, expect, it } from "vitest";
import { docTitle, mergeSources, relevancePercent, safeUrl } from "../src/citations";
import { renderMarkdown, splitDisclaimer } from "../src/markdown";
import type { Citation } from "../src/types";

function dom(md: string): HTMLElement {
  const el = document.createElement("div");
  el.innerHTML = renderMarkdown(md);
  return el;
}

function assertInert(el: HTMLElement) {
  for (const n of el.querySelectorAll("*")) {
    expect(["SCRIPT", "IMG", "IFRAME", "OBJECT", "EMBED", "SVG", "MATH", "STYLE", "FORM", "INPUT", "LINK", "META", "BASE"]).not.toContain(n.nodeName.toUpperCase());
    for (const a of n.attributes) {
      expect(a.name.startsWith("on")).toBe(false);
      expect(a.name).not.toBe("style");
      expect(a.name).not.toBe("src");
      if (a.name === "href") expect(a.value).toMatch(/^(https?:|mailto:|#cite-\d+$)/i);
    }
  }
}

describe("renderMarkdown", () => {
  const hostile = [
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](  javascript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "![x](https://evil.example/track.png)",
    '![x](javascript:alert(1) "t")',
    "<svg onload=alert(1)><circle/></svg>",
    '<iframe src="https://evil.example"></iframe>',
    '<div style="position:fixed;inset:0">overlay</div>',
    "<style>body{display:none}</style>",
    '<form action="https://evil.example"><input name=p></form>',
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    '<a href="https://ok.example" onclick="alert(1)">ok</a>',
    "`<img src=x onerror=alert(1)>`",
    "```html\n<script>alert(1)</script>\n```",
    "<details open ontoggle=alert(1)>",
    '<base href="https://evil.example/">',
    "[a](https://ok.example \"t\" onmouseover=alert(1))",
  ];
  for (const h of hostile) {
    it("neutralises " + JSON.stringify(h).slice(0, 60), () => {
      const el = dom(h);
      assertInert(el);
      expect(el.innerHTML).not.toMatch(/<(script|img|iframe|svg|style|form|base)/i);
    });
  }

  it("shows raw HTML as text, not markup", () => {
    const el = dom("Hello <b>bold</b> <script>x()</script>");
    expect(el.querySelector("b")).toBeNull();
    expect(el.textContent).toContain("<b>bold</b>");
    expect(el.textContent).toContain("<script>x()</script>");
  });

  it("keeps safe Markdown: emphasis, lists, code, http links opening safely", () => {
    const el = dom("**Gout** is *painful*.\n\n- a\n- b\n\n`code`\n\n[NIH](https://www.nih.gov/)");
    expect(el.querySelector("strong")!.textContent).toBe("Gout");
    expect(el.querySelectorAll("li")).toHaveLength(2);
    expect(el.querySelector("code")!.textContent).toBe("code");
    const a = el.querySelector('a[href="https://www.nih.gov/"]')!;
    expect(a.getAttribute("target")).toBe("_blank");
    expect(a.getAttribute("rel")).toContain("noopener");
  });

  it("turns [n] markers into citation links, but not link text or long numbers", () => {
    const el = dom("Gout is arthritis [1]. Both [2, 3] agree. See [the page](https://x.example) and [12345].");
    const cites = [...el.querySelectorAll("a.cite")].map((a) => a.getAttribute("data-cite"));
    expect(cites).toEqual(["1", "2", "3"]);
    expect(el.querySelector("a.cite")!.getAttribute("href")).toBe("#cite-1");
    expect(el.textContent).toContain("[12345]");
    expect(el.querySelector('a[href="https://x.example"]')!.textContent).toBe("the page");
  });

  it("renders a 1 MB line without hanging and without markup", () => {
    const line = "<img src=x onerror=alert(1)>".repeat(4) + "a".repeat(1 << 20) + " [1]";
    const t0 = performance.now();
    const el = dom(line);
    const ms = performance.now() - t0;
    assertInert(el);
    expect(el.textContent!.length).toBeGreaterThan(1 << 20);
    expect(ms).toBeLessThan(20000); // a bound against catastrophic backtracking, not a speed target
  });
});

describe("splitDisclaimer", () => {
  const d = "Medical disclaimer: this is not advice.";
  it("separates the trailing disclaimer", () => {
    expect(splitDisclaimer("Answer.\n\n" + d, d)).toEqual({ body: "Answer.", disclaimer: true });
    expect(splitDisclaimer("Answer.", d)).toEqual({ body: "Answer.", disclaimer: false });
  });
  it("holds back a partial disclaimer while streaming", () => {
    expect(splitDisclaimer("Answer.\n\nMedical discl", d, true).body).toBe("Answer.");
    expect(splitDisclaimer("Answer.\n\nMedical discl", d, false).body).toBe("Answer.\n\nMedical discl");
  });
});

function cit(index: number, title: string, url: string | null, score = 1, quoted = "q" + index): Citation {
  return { index, source_id: "s" + index, source_type: "kb", title, url, source_name: "GARD", relevance_score: score, quoted_text: quoted };
}

describe("citations", () => {
  it("names a source by the server's title, with its subtitle, never an empty name", () => {
    const s = mergeSources([{ ...cit(1, "Gout", "https://medlineplus.gov/gout.html"), subtitle: "Symptoms" }, { ...cit(2, "  Gout ", "https://medlineplus.gov/gout.html"), subtitle: "Treatment" }, { ...cit(3, "Gout", "https://medlineplus.gov/gout.html"), subtitle: "Symptoms" }]);
    expect(s).toHaveLength(1);
    expect(s[0].title).toBe("Gout");
    expect(s[0].subtitles).toEqual(["Symptoms", "Treatment"]);
    expect(docTitle("High blood pressure (hypertension)")).toBe("High blood pressure (hypertension)");
    expect(docTitle("  Kidney   Stones ")).toBe("Kidney Stones");
    expect(docTitle("")).toBe("Untitled source");
    expect(docTitle(null)).toBe("Untitled source");
    expect(mergeSources([cit(1, "Acromegaly", null)])[0].subtitles).toEqual([]);
  });

  it("merges citations of one document and keeps every marker", () => {
    const s = mergeSources([
      cit(1, "Gout", "https://rarediseases.info.nih.gov/gard/6520/gout", 1.9, "Gout is"),
      cit(2, "Gout", "https://rarediseases.info.nih.gov/gard/6520/gout/", 2.1, "Symptoms"),
      cit(3, "Gout", "https://www.niddk.nih.gov/gout", 1.5),
      cit(4, "Gout", "https://rarediseases.info.nih.gov/gard/6520/gout#x", 1.0, "Gout is"),
    ]);
    expect(s).toHaveLength(2);
    expect(s[0].title).toBe("Gout");
    expect(s[0].indexes).toEqual([1, 2, 4]);
    expect(s[0].relevance).toBe(2.1);
    expect(s[0].quotes).toEqual(["Gout is", "Symptoms"]);
    expect(s[1].indexes).toEqual([3]);
  });

  it("scales relevance and only links http(s)", () => {
    expect(relevancePercent(100)).toBe(100);
    expect(relevancePercent(49.6)).toBe(50);
    expect(relevancePercent(250)).toBe(100);
    expect(relevancePercent(-3)).toBe(0);
    expect(relevancePercent(null)).toBeNull();
    expect(safeUrl("javascript:alert(1)")).toBeNull();
    expect(safeUrl("data:text/html,x")).toBeNull();
    expect(safeUrl("https://medlineplus.gov/gout.html")).toBe("https://medlineplus.gov/gout.html");
  });
});
