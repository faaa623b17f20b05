// PNGs of the main screens, in both themes, for docs/screenshots (make
// screenshots). Real server, real answers (MedQuAD when ../shared/data has
// it), a few earlier conversations asked through the REST API first.
//
// usage: node tests/browser/screenshots.mjs OUTDIR

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PASSWORD, launch, newPage, prepareKb, signIn, skipReason, startServer } from "./harness.mjs";

const out = resolve(process.argv[2] || "docs/screenshots");
// ONLY=workflow: just the workflow screens.
const only = process.env.ONLY || "";
const why = skipReason();
if (why) {
  console.error(why);
  process.exit(1);
}
mkdirSync(out, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), "ms-shots-"));
const kb = prepareKb(dir);
// The drug tables (docs/workflows.md) for the prescription workflow's screen.
const DRUGS = resolve(dirname(fileURLToPath(import.meta.url)), "../../../shared/data/drugs");
if (existsSync(DRUGS)) {
  const r = spawnSync(process.env.MEDSTREAM_BIN || resolve(dirname(fileURLToPath(import.meta.url)), "../../build/medstream"), ["kb", "import", "--data-dir", dir, "--format", "drugs", DRUGS], { encoding: "utf8" });
  if (r.status !== 0) throw new Error("drug tables import failed: " + r.stderr);
}
const srv = await startServer({ dataDir: dir });
const browser = await launch();

async function json(method, path, token, body) {
  const r = await fetch(srv.base + path, { method, headers: { "Content-Type": "application/json", ...(token ? { Authorization: "Bearer " + token } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return r.json();
}

/** The diagnosis workflow in a new chat: the live run, then the final card. */
async function shot_workflow(page, shot) {
  await page.goto(srv.base + "/");
  await page.getByRole("heading", { name: "What would you like to look up?" }).waitFor();
  await page.getByRole("button", { name: "Workflow", exact: true }).click();
  const d = page.getByRole("dialog", { name: "Run a decision-support workflow" });
  const sym = [["cough", "severe", "5 days"], ["fever", "moderate", "3 days"], ["shortness of breath", "moderate", "2 days"]];
  for (let i = 0; i < sym.length; i++) {
    if (i) await d.getByRole("button", { name: "Add a symptom" }).click();
    await d.getByLabel(`Symptom ${i + 1}`, { exact: true }).fill(sym[i][0]);
    await d.getByLabel(`Severity of symptom ${i + 1}`).selectOption(sym[i][1]);
    await d.getByLabel(`Duration of symptom ${i + 1}`).fill(sym[i][2]);
  }
  await d.getByLabel("Temperature (°C)").fill("38.9");
  await d.getByLabel("Heart rate (/min)").fill("112");
  await d.getByLabel("Blood pressure (mmHg)").fill("104/66");
  await d.getByLabel("Respiratory rate (/min)").fill("24");
  await d.getByLabel("SpO₂ (%)").fill("93");
  await d.getByLabel("Age (years)").fill("67");
  await d.getByLabel("Sex").selectOption("male");
  await page.waitForTimeout(200);
  await shot(page, "workflow-form");
  await d.getByRole("button", { name: "Run diagnosis" }).click();
  await page.locator("article.msg.assistant .wf-card").waitFor({ timeout: 60000 });
  await page.locator("main").evaluate((m) => (m.scrollTop = 0));
  await page.waitForTimeout(300);
  await shot(page, "workflow-items");
  await page.locator("article.msg.assistant .wf-card").evaluate((c) => {
    const m = c.closest("main");
    m.scrollTop += c.getBoundingClientRect().top - m.getBoundingClientRect().top - 8;
  });
  await page.waitForTimeout(300);
  await shot(page, "workflow-card");

  await page.getByRole("button", { name: "Workflow", exact: true }).click();
  await d.getByRole("radio", { name: "Prescription" }).check();
  await d.getByRole("textbox", { name: "Diagnosis" }).fill("Pneumonia");
  await d.getByLabel("Proposed medications (comma-separated)").fill("amoxicillin, clopidogrel");
  await d.getByLabel("Current medications (comma-separated)").fill("Warfarin Sodium 5 MG Oral Tablet, aspirin");
  await d.getByLabel("Allergies (comma-separated)").fill("penicillin");
  await d.getByLabel("Age (years)").fill("67");
  await d.getByRole("button", { name: "Run prescription" }).click();
  await page.locator("article.msg.assistant .wf-card").nth(1).waitFor({ timeout: 60000 });
  await page.locator("article.msg.assistant .wf-card").nth(1).evaluate((c) => {
    const m = c.closest("main");
    m.scrollTop += c.getBoundingClientRect().top - m.getBoundingClientRect().top - 8;
  });
  await page.waitForTimeout(300);
  await shot(page, "workflow-prescription");
}

try {
  const email = "dr.okafor@stmarys.example";
  const reg = await json("POST", "/api/auth/register", null, { email, password: PASSWORD });
  const tok = reg.access_token;
  const made = {};
  for (const q of ["What causes chronic kidney disease?", "How is gout treated?", "What are the warning signs of a stroke?"]) {
    const c = await json("POST", "/api/conversations", tok, { title: q });
    await json("POST", `/api/conversations/${c.id}/messages/chat`, tok, { text: q });
    made[q] = c.id;
  }
  // Folders, one conversation filed in a subfolder.
  const rheum = await json("POST", "/api/folders", tok, { name: "Rheumatology" });
  await json("POST", "/api/folders", tok, { name: "Ward 7B", parent_folder_id: rheum.id });
  await json("POST", "/api/folders", tok, { name: "Nephrology" });
  await json("PATCH", `/api/conversations/${made["How is gout treated?"]}`, tok, { folder_id: rheum.id });
  for (const theme of ["light", "dark"]) {
    const shot = (page, name) => page.screenshot({ path: join(out, `${name}-${theme}.png`) });
    const { page, context } = await newPage(browser, { theme });
    if (only === "workflow") {
      await signIn(page, srv.base, email);
      await shot_workflow(page, shot);
      await context.close();
      continue;
    }
    await page.goto(srv.base + "/");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByLabel("Email").fill(email);
    await shot(page, "sign-in");
    await signIn(page, srv.base, email);
    await page.getByRole("heading", { name: "What would you like to look up?" }).waitFor();
    await page.getByRole("button", { name: /^Rheumatology/ }).click();
    await page.getByRole("link", { name: "How is gout treated?" }).waitFor();
    await shot(page, "new-chat");
    const box = page.getByLabel("Your question", { exact: true });
    await box.fill("What are the symptoms of acromegaly?");
    await box.press("Enter");
    await page.waitForFunction(() => (document.querySelector("article.msg.assistant .prose")?.textContent ?? "").length > 260, null, { timeout: 60000 });
    await shot(page, "streaming");
    await page.locator('article.msg.assistant[data-status="complete"]').waitFor({ timeout: 60000 });
    await page.locator("main").evaluate((m) => (m.scrollTop = m.scrollHeight));
    await page.waitForTimeout(200);
    await shot(page, "answer");
    await page.locator("article.msg.assistant a.cite").first().click();
    await page.getByRole("complementary", { name: "Sources" }).waitFor();
    await page.waitForTimeout(200);
    await shot(page, "sources");
    await page.getByRole("button", { name: "Telemetry" }).click();
    await page.getByRole("complementary", { name: "Telemetry" }).waitFor();
    await page.waitForTimeout(200);
    await shot(page, "telemetry");
    await page.getByRole("button", { name: "Close telemetry" }).click();

    // The patient banner (a context bound over REST) and an attachment on the question.
    const conv = /#\/c\/(.+)$/.exec(page.url())[1];
    await json("POST", "/api/clinical-contexts", tok, {
        conversation_id: conv, age: 47, gender: "female", weight_kg: 88, height_cm: 171, chief_complaint: "Headaches and enlarging hands",
        problems: ["Acromegaly (suspected)", "Type 2 diabetes mellitus", "Hypertension"], medications: ["Metformin 1 g twice daily", "Amlodipine 5 mg"],
        allergies: ["Penicillin (rash)"], vitals: { temperature: 36.8, heart_rate: 78, blood_pressure: "148/92", respiratory_rate: 14, spo2: 98 },
      });
    await page.reload();
    await page.getByRole("region", { name: "Patient" }).getByText("Acromegaly (suspected)").waitFor();
    const q = page.locator("article.msg.user").first();
    const chooser = page.waitForEvent("filechooser");
    await q.hover();
    await q.getByRole("button", { name: "Attach a file" }).click();
    await (await chooser).setFiles({ name: "endocrine-referral.txt", mimeType: "text/plain", buffer: Buffer.from("Referral: IGF-1 raised at 2.8 times the upper limit of normal; oral glucose tolerance test with GH to follow.\n") });
    await q.locator(".att .pill", { hasText: "Ready" }).waitFor({ timeout: 60000 });
    await page.locator("main").evaluate((m) => (m.scrollTop = 0));
    await page.waitForTimeout(200);
    await shot(page, "patient");

    // References in a style, in the sources panel.
    await page.locator("article.msg.assistant .source-chip").first().click();
    const panel = page.getByRole("complementary", { name: "Sources" });
    await panel.locator(".refs-body li").first().waitFor();
    await panel.getByLabel("Citation style").selectOption("vancouver");
    await page.waitForFunction(() => document.querySelector(".refs-body")?.getAttribute("data-style") === "vancouver");
    await panel.locator(".references").scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
    await shot(page, "references");
    await panel.getByRole("button", { name: "Close sources" }).click();

    // The share dialog with a link made.
    await page.getByRole("button", { name: "Share", exact: true }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Expires after").selectOption({ label: "7 days" });
    await dialog.getByLabel("Password (optional)").fill("handover-7b");
    await dialog.getByLabel("View limit (optional)").fill("5");
    await dialog.getByRole("button", { name: "Create link" }).click();
    await dialog.getByLabel("New link (shown only now)").waitFor();
    await page.waitForTimeout(200);
    await shot(page, "share");
    await page.keyboard.press("Escape");
    await shot_workflow(page, shot);
    await context.close();
  }
  console.log(`screenshots (${kb} knowledge base) in ${out}`);
} finally {
  await browser.close();
  await srv.stop();
  rmSync(dir, { recursive: true, force: true });
}
