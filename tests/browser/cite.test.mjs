// Citation styles, BibTeX/RIS and the Markdown/PDF exports in a real
// browser against the real binary: what the page shows and copies is what
// the server formatted (docs/protocol.md "Citations", "Exports"), and the
// axe scan of these screens in both themes.
//
// Run: node --test tests/browser/ (ctest runs it as "browser").

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PASSWORD, launch, newPage, prepareKb, register, skipReason, startServer } from "./harness.mjs";

const reason = skipReason();
if (reason) console.log("# SKIP browser suite: " + reason);

const QUESTION = "What are the symptoms of acromegaly?";

describe("web client: citation styles and exports", { skip: reason ?? false, timeout: 600000 }, () => {
  let srv, browser, dir;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ms-browser-cite-"));
    console.log(`# knowledge base: ${prepareKb(dir)}`);
    srv = await startServer({ dataDir: dir });
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function restAs(address) {
    const r = await fetch(srv.base + "/api/auth/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ email: address, password: PASSWORD }) });
    const tok = (await r.json()).access_token;
    return async (path) => {
      const res = await fetch(srv.base + path, { headers: { Authorization: "Bearer " + tok } });
      return { status: res.status, headers: res.headers, text: await res.text() };
    };
  }

  async function answered(opts) {
    const p = await newPage(browser, opts);
    await p.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: srv.base });
    const address = await register(p.page, srv.base);
    const box = p.page.getByLabel("Your question", { exact: true });
    await box.fill(QUESTION);
    await box.press("Enter");
    await p.page.locator('article.msg.assistant[data-status="complete"]').waitFor({ timeout: 60000 });
    return { ...p, address, get: await restAs(address), mid: await p.page.locator("article.msg.assistant").getAttribute("data-message-id"), conv: /#\/c\/(.+)$/.exec(p.page.url())[1] };
  }

  test("the sources panel shows the answer's references in the chosen style, kept across reloads; copy as BibTeX and RIS", async () => {
    const { page, context, get, mid } = await answered();
    await page.locator("article.msg.assistant .source-chip").first().click();
    const panel = page.getByRole("complementary", { name: "Sources" });
    const refs = panel.getByRole("region", { name: /References|Works Cited/ });
    await refs.locator(".refs-body li").first().waitFor();
    const select = refs.getByLabel("Citation style");
    assert.equal(await select.inputValue(), "apa");
    for (const style of ["vancouver", "mla", "ama", "chicago", "apa"]) {
      await select.selectOption(style);
      const want = JSON.parse((await get(`/api/messages/${mid}/citations?style=${style}`)).text).bibliography;
      await page.waitForFunction((s) => document.querySelector(".refs-body")?.getAttribute("data-style") === s, style);
      const shown = await refs.locator(".refs-body li").allInnerTexts();
      assert.equal(shown.length, want.entries.length, style);
      // The server's text, entry for entry (Markdown italics rendered).
      for (let i = 0; i < shown.length; i++) assert.equal(shown[i].replace(/\s+/g, " ").trim(), want.entries[i].text.replace(/^\d+\.\s*/, "").replace(/\s+/g, " ").trim(), `${style} entry ${i}`);
      assert.equal(await refs.locator("h3").innerText(), want.title);
    }
    await select.selectOption("vancouver");
    await page.reload();
    await page.locator("article.msg.assistant .source-chip").first().click();
    await page.waitForFunction(() => document.querySelector(".refs-body")?.getAttribute("data-style") === "vancouver");

    await refs.getByRole("button", { name: "Copy as BibTeX" }).click();
    await refs.getByRole("button", { name: "Copied" }).waitFor();
    const bib = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(bib, (await get(`/api/messages/${mid}/citations?style=vancouver&format=bibtex`)).text);
    assert.match(bib, /^@(misc|article)\{/m);
    await refs.getByRole("button", { name: "Copy as RIS" }).click();
    let ris = "";
    for (let i = 0; i < 100 && !ris.startsWith("TY  -"); i++) {
      await new Promise((r) => setTimeout(r, 50));
      ris = await page.evaluate(() => navigator.clipboard.readText());
    }
    assert.equal(ris, (await get(`/api/messages/${mid}/citations?style=vancouver&format=ris`)).text);
    await context.close();
  });

  test("export: Markdown and PDF downloads of the conversation, references in the chosen style", async () => {
    const { page, context, get, conv } = await answered();
    await page.locator("article.msg.assistant .source-chip").first().click();
    await page.getByRole("complementary", { name: "Sources" }).getByLabel("Citation style").selectOption("ama");
    await page.getByRole("button", { name: "Export" }).click();
    await page.getByRole("list", { name: "Export as" }).getByText("References in AMA").waitFor();
    const dl = page.waitForEvent("download");
    await page.getByRole("button", { name: "Markdown (.md)" }).click();
    const md = await dl;
    assert.equal(md.suggestedFilename(), `conversation-${conv}.md`);
    const text = readFileSync(await md.path(), "utf8");
    // The server's export (its lines naming the export time aside: two exports, two times).
    const timeless = (t) => t.split("\n").filter((l) => !/export/i.test(l)).join("\n");
    assert.equal(timeless(text), timeless((await get(`/api/conversations/${conv}/export?format=markdown&style=ama`)).text));
    assert.match(text, /\bama\b|AMA/);
    assert.ok(text.includes(QUESTION));
    const dl2 = page.waitForEvent("download");
    await page.getByRole("button", { name: "Export" }).click();
    await page.getByRole("button", { name: "PDF" }).click();
    const pdf = await dl2;
    assert.equal(pdf.suggestedFilename(), `conversation-${conv}.pdf`);
    const bytes = readFileSync(await pdf.path());
    assert.equal(bytes.subarray(0, 5).toString(), "%PDF-");
    assert.ok(bytes.length > 2000);
    await context.close();
  });

  test("axe: the references, the style chooser and the export menu, in both themes", async () => {
    const { default: AxeBuilder } = await import("@axe-core/playwright");
    const problems = [];
    for (const theme of ["light", "dark"]) {
      const { page, context } = await answered({ theme });
      const scan = async (screen) => {
        const r = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
        for (const v of r.violations)
          if (v.impact === "serious" || v.impact === "critical") problems.push(`${theme}/${screen}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
      };
      await page.locator("article.msg.assistant .source-chip").first().click();
      await page.locator(".refs-body li").first().waitFor();
      await scan("references");
      await page.getByRole("button", { name: "Export" }).click();
      await page.getByRole("button", { name: "PDF" }).waitFor();
      await scan("export-menu");
      await context.close();
    }
    assert.deepEqual(problems, []);
  });
});
