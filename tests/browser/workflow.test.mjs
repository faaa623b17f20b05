// The diagnosis workflow in the chat (docs/workflows.md, issue 13): the
// form, the live progress bar with seed 004's stages in order, the streamed
// items, the final card with NEWS2 and the disclaimer, the stored card after
// a reload, and the axe scan of these screens in both themes. Runs on the
// starter knowledge base (no MedQuAD symptoms passages: the differential is
// empty and the result says why; the primary-diagnosis item still streams).
//
// Run: node --test tests/browser/ (ctest runs it as "browser").

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { launch, newPage, register, skipReason, startServer } from "./harness.mjs";

const reason = skipReason();
if (reason) console.log("# SKIP browser suite: " + reason);

const DX_STAGES = ["symptoms_analysis", "vitals_evaluation", "history_review", "differential_diagnosis", "primary_diagnosis", "complete"];

describe("web client: diagnosis workflow", { skip: reason ?? false, timeout: 600000 }, () => {
  let srv, browser, dir;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ms-browser-wf-"));
    srv = await startServer({ dataDir: dir });
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function fillDiagnosis(page) {
    await page.getByRole("button", { name: "Workflow", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Run a decision-support workflow" });
    await dialog.getByRole("radio", { name: "Diagnosis" }).check();
    await dialog.getByLabel("Symptom 1", { exact: true }).fill("fever");
    await dialog.getByLabel("Severity of symptom 1").selectOption("moderate");
    await dialog.getByLabel("Duration of symptom 1").fill("3 days");
    await dialog.getByRole("button", { name: "Add a symptom" }).click();
    await dialog.getByLabel("Symptom 2", { exact: true }).fill("cough");
    await dialog.getByLabel("Severity of symptom 2").selectOption("severe");
    await dialog.getByLabel("Temperature (°C)").fill("38.6");
    await dialog.getByLabel("Heart rate (/min)").fill("104");
    await dialog.getByLabel("Blood pressure (mmHg)").fill("128/82");
    await dialog.getByLabel("Age (years)").fill("45");
    await dialog.getByLabel("Sex").selectOption("female");
    return dialog;
  }

  test("a diagnosis streams its stages in order, its items and the card; the card is stored", async () => {
    const { page, context, errors } = await newPage(browser);
    const frames = [];
    page.on("websocket", (ws) => ws.on("framereceived", (f) => {
      try {
        const e = JSON.parse(String(f.payload));
        if (e.type?.startsWith("workflow_") || e.type === "message_complete") frames.push(e);
      } catch {
        /* not JSON */
      }
    }));
    await register(page, srv.base);
    // Record, in the order the page shows them, each stage marked done, each
    // item, and every text of the polite live region.
    await page.evaluate(() => {
      window.__done = [];
      window.__items = 0;
      window.__said = [];
      const live = [...document.querySelectorAll('[aria-live="polite"]')][0];
      new MutationObserver(() => {
        for (const li of document.querySelectorAll(".wf-stages li.done")) if (!window.__done.includes(li.dataset.stage)) window.__done.push(li.dataset.stage);
        window.__items = Math.max(window.__items, document.querySelectorAll(".wf-items li[data-stage]").length);
        const t = live.textContent.trim();
        if (t && window.__said[window.__said.length - 1] !== t) window.__said.push(t);
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    const dialog = await fillDiagnosis(page);
    await dialog.getByRole("button", { name: "Run diagnosis" }).click();

    const msg = page.locator("article.msg.assistant").last();
    const card = msg.locator(".wf-card");
    await card.waitFor({ timeout: 60000 });
    await page.locator('article.msg.assistant[data-status="complete"]').waitFor({ timeout: 60000 });

    // The stages, in seed 004's order, as the page marked them done.
    assert.deepEqual(await page.evaluate(() => window.__done), DX_STAGES);
    const prog = frames.filter((e) => e.type === "workflow_progress");
    assert.deepEqual(prog.map((e) => [e.stage, e.progress]), [["symptoms_analysis", 10], ["vitals_evaluation", 30], ["history_review", 50], ["differential_diagnosis", 70], ["primary_diagnosis", 90]]);
    const bar = msg.getByRole("progressbar", { name: "Diagnosis workflow progress" });
    assert.equal(await bar.getAttribute("aria-valuenow"), "100");
    for (const [label, pct] of [["Symptoms analysis", 10], ["Vital signs and NEWS2", 30], ["History review", 50], ["Differential diagnosis", 70], ["Primary diagnosis", 90]])
      assert.match(await msg.locator(`.wf-stages li`, { hasText: label }).innerText(), new RegExp(`${pct}%`));

    // Every streamed item is shown; on the starter knowledge base that is the primary diagnosis (none matched).
    const items = frames.filter((e) => e.type === "workflow_item");
    assert.ok(items.length >= 1, "at least the primary-diagnosis item streams");
    assert.equal(await msg.locator(".wf-items li[data-stage]").count(), items.length);
    assert.equal(await page.evaluate(() => window.__items), items.length);
    const primary = msg.locator(".wf-item.primary");
    assert.match(await primary.innerText(), /Primary: none/);
    assert.match(await primary.innerText(), /Urgency: low/);

    // Stage changes are announced politely; items are not.
    const said = await page.evaluate(() => window.__said);
    for (const s of ["Symptoms analysis: 10%.", "Vital signs and NEWS2: 30%.", "History review: 50%.", "Differential diagnosis: 70%.", "Primary diagnosis: 90%."]) assert.ok(said.includes(s), `announced ${s}: ${JSON.stringify(said)}`);
    assert.ok(said.some((t) => /^Diagnosis workflow complete/.test(t)), JSON.stringify(said));
    assert.ok(said.length <= 8, `no announcement per item: ${JSON.stringify(said)}`);

    // The card: primary, urgency, NEWS2 with the missing parameters, tests, the disclaimer apart.
    const done = frames.find((e) => e.type === "message_complete");
    const result = done.workflow_result;
    assert.equal(result.workflow, "diagnosis");
    const text = await card.innerText();
    assert.match(text, /Diagnosis workflow result/);
    assert.match(text, /Primary diagnosis\s*None: no candidate condition matched/);
    assert.match(text, /Urgency: low/);
    assert.match(text, new RegExp(`NEWS2 ${result.news2.aggregate} over 3 of 7 parameters`));
    assert.match(text, /Missing parameters: respiration rate, spo2, air or oxygen, consciousness/);
    assert.match(text, /Recommended tests\s*None on file/i);
    assert.doesNotMatch(text.replace("not a calibrated probability", ""), /probabilit/i, "the card words the score honestly");
    const disc = card.getByRole("complementary", { name: "Medical disclaimer" });
    assert.equal((await disc.innerText()).trim(), result.disclaimer.trim());
    assert.ok(result.disclaimer.length > 20);
    assert.equal(await msg.locator(":scope > .answer > .disclaimer").count(), 0, "the disclaimer once, in the card");
    // What the workflow could not use is said.
    await card.getByText(/What the workflow could not use/).click();
    assert.match(await card.innerText(), /no MedQuAD symptoms passage mentions/);

    // Reloaded: the stored result renders the same card.
    await page.reload();
    const again = page.locator("article.msg.assistant .wf-card");
    await again.waitFor({ timeout: 30000 });
    const text2 = await again.innerText();
    assert.match(text2, /Primary diagnosis\s*None: no candidate condition matched/);
    assert.match(text2, new RegExp(`NEWS2 ${result.news2.aggregate} over 3 of 7 parameters`));
    assert.match(text2, /Missing parameters: respiration rate, spo2, air or oxygen, consciousness/);
    assert.equal((await again.getByRole("complementary", { name: "Medical disclaimer" }).innerText()).trim(), result.disclaimer.trim());
    assert.match(await page.locator("article.msg.user").last().innerText(), /Diagnosis request/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("axe: the workflow form and the result card, in both themes", async () => {
    const { default: AxeBuilder } = await import("@axe-core/playwright");
    for (const theme of ["light", "dark"]) {
      const { page, context } = await newPage(browser, { theme });
      await register(page, srv.base);
      const scan = async (what) => {
        const r = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
        const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
        assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), [], `${what} (${theme})`);
      };
      const dialog = await fillDiagnosis(page);
      await scan("diagnosis form");
      await dialog.getByRole("radio", { name: "Prescription" }).check();
      await dialog.getByRole("textbox", { name: "Diagnosis" }).fill("Pneumonia");
      await scan("prescription form");
      await dialog.getByLabel("Proposed medications (comma-separated)").fill("amoxicillin, warfarin");
      await dialog.getByLabel("Current medications (comma-separated)").fill("aspirin");
      await dialog.getByLabel("Allergies (comma-separated)").fill("penicillin");
      await dialog.getByRole("button", { name: "Run prescription" }).click();
      const card = page.locator("article.msg.assistant .wf-card");
      await card.waitFor({ timeout: 60000 });
      await page.locator('article.msg.assistant[data-status="complete"]').waitFor({ timeout: 60000 });
      assert.match(await card.innerText(), /Prescription workflow result/);
      await scan("prescription result");
      await context.close();
    }
  });
});
