// The patient banner (clinical context: create, edit, FHIR import, bound by
// the first question) and attachments (upload with progress, extraction
// status, list, download, delete, cited in a later answer), in a real
// browser against the real binary, with the axe scan of these screens in
// both themes (docs/protocol.md "Clinical context", "Attachments").
//
// Run: node --test tests/browser/ (ctest runs it as "browser").

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { PASSWORD, REPO, launch, newPage, register, skipReason, startServer } from "./harness.mjs";

const reason = skipReason();
if (reason) console.log("# SKIP browser suite: " + reason);

const FHIR_DIR = resolve(REPO, "../shared/data/fhir");

/** A small FHIR R4 Bundle written for this test: what the banner must show
 * is known exactly. */
function bundle() {
  const p = "urn:uuid:11111111-1111-4111-8111-111111111111";
  const obs = (code, value, unit, ucum) => ({
    resource: { resourceType: "Observation", status: "final", code: { coding: [{ system: "http://loinc.org", code }] }, subject: { reference: p }, effectiveDateTime: "2026-11-30T09:00:00Z", valueQuantity: { value, unit, code: ucum, system: "http://unitsofmeasure.org" } },
  });
  return {
    resourceType: "Bundle",
    type: "collection",
    entry: [
      { fullUrl: p, resource: { resourceType: "Patient", id: "p1", gender: "female", birthDate: "1970-01-15" } },
      { resource: { resourceType: "Condition", clinicalStatus: { coding: [{ code: "active" }] }, code: { text: "Type 2 diabetes mellitus" }, subject: { reference: p } } },
      { resource: { resourceType: "MedicationRequest", status: "active", medicationCodeableConcept: { text: "Metformin 500 mg oral tablet" }, subject: { reference: p } } },
      { resource: { resourceType: "AllergyIntolerance", clinicalStatus: { coding: [{ code: "active" }] }, code: { text: "Penicillin" }, patient: { reference: p } } },
      obs("8867-4", 88, "/min", "/min"),
      obs("29463-7", 71.5, "kg", "kg"),
    ],
  };
}

function ageOn(birth, now = new Date()) {
  const b = new Date(birth + "T00:00:00Z");
  let a = now.getUTCFullYear() - b.getUTCFullYear();
  if (now.getUTCMonth() < b.getUTCMonth() || (now.getUTCMonth() === b.getUTCMonth() && now.getUTCDate() < b.getUTCDate())) a--;
  return a;
}

describe("web client: patient context and attachments", { skip: reason ?? false, timeout: 600000 }, () => {
  let srv, browser, dir;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ms-browser-clin-"));
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
    return async (method, path, body) => {
      const res = await fetch(srv.base + path, { method, headers: { Authorization: "Bearer " + tok, "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
      return { status: res.status, body: res.status === 204 ? null : await res.json() };
    };
  }

  async function ask(page, text) {
    const box = page.getByLabel("Your question", { exact: true });
    await box.fill(text);
    await box.press("Enter");
    await page.waitForFunction((n) => document.querySelectorAll('article.msg.assistant:not([data-status="streaming"])').length >= n, await page.locator("article.msg.user").count(), { timeout: 60000 });
  }

  const banner = (page) => page.getByRole("region", { name: "Patient" });

  test("patient banner: made in a new chat, bound by the first question, edited, the server's range error shown", async () => {
    const { page, context } = await newPage(browser);
    const address = await register(page, srv.base);
    const api = await restAs(address);
    await banner(page).getByRole("button", { name: "Add patient context" }).click();
    const dlg = page.getByRole("dialog", { name: "Add a patient context" });
    await dlg.getByLabel("Age (years)").fill("67");
    await dlg.getByLabel("Gender").selectOption("male");
    await dlg.getByLabel("Chief complaint").fill("Knee pain and swelling");
    await dlg.getByLabel("Problems (one a line)").fill("Gout\nChronic kidney disease stage 3");
    await dlg.getByLabel("Allergies (one a line)").fill("Allopurinol");
    await dlg.getByLabel("Temperature (°C)").fill("101.3");
    await dlg.getByRole("button", { name: "Save" }).click();
    // The server's message names the field, its unit and what it looks like.
    await dlg.getByText(/vitals\.temperature .*Celsius.*Fahrenheit/).waitFor();
    await dlg.getByLabel("Temperature (°C)").fill("38.5");
    await dlg.getByLabel("Blood pressure (mmHg)").fill("142 / 91");
    await dlg.getByRole("button", { name: "Save" }).click();
    await dlg.waitFor({ state: "detached" });
    const b = banner(page);
    assert.match(await b.innerText(), /67 y · male/);
    assert.match(await b.innerText(), /Knee pain and swelling/);
    assert.match(await b.locator(".allergies").innerText(), /Allopurinol/);
    assert.match(await b.innerText(), /T 38\.5 °C · BP 142\/91 mmHg/);

    // The first question binds the new conversation to it.
    await ask(page, "How is gout treated?");
    const conv = /#\/c\/(.+)$/.exec(page.url())[1];
    const bound = await api("GET", `/api/clinical-contexts/current?conversation_id=${conv}`);
    assert.equal(bound.status, 200);
    assert.deepEqual(bound.body.problems, ["Gout", "Chronic kidney disease stage 3"]);
    assert.deepEqual(bound.body.conversation_ids, [conv]);
    await b.locator(".patient-demo").waitFor();

    // Edit: the change is stored; a reload shows it again.
    await b.getByRole("button", { name: "Edit" }).click();
    const ed = page.getByRole("dialog", { name: "Edit the patient context" });
    assert.equal(await ed.getByLabel("Age (years)").inputValue(), "67");
    await ed.getByLabel("Medications (one a line)").fill("Colchicine 0.5 mg");
    await ed.getByRole("button", { name: "Save" }).click();
    await ed.waitFor({ state: "detached" });
    assert.match(await b.innerText(), /Colchicine 0\.5 mg/);
    await page.reload();
    await banner(page).getByText("Colchicine 0.5 mg").waitFor();
    assert.deepEqual((await api("GET", `/api/clinical-contexts/current?conversation_id=${conv}`)).body.medications, ["Colchicine 0.5 mg"]);

    // Remove: the conversation stays, unbound.
    await banner(page).getByRole("button", { name: "Remove the patient context" }).click();
    await banner(page).getByRole("button", { name: "Add patient context" }).waitFor();
    assert.equal((await api("GET", `/api/clinical-contexts/current?conversation_id=${conv}`)).status, 404);
    assert.equal((await api("GET", `/api/conversations/${conv}`)).status, 200);
    await context.close();
  });

  test("patient banner: a FHIR R4 Bundle file is imported into the open conversation", async () => {
    const { page, context } = await newPage(browser);
    const address = await register(page, srv.base);
    const api = await restAs(address);
    await ask(page, "What is type 2 diabetes?");
    const conv = /#\/c\/(.+)$/.exec(page.url())[1];
    const chooser = page.waitForEvent("filechooser");
    await banner(page).getByRole("button", { name: "Import FHIR" }).click();
    await (await chooser).setFiles({ name: "patient.json", mimeType: "application/fhir+json", buffer: Buffer.from(JSON.stringify(bundle())) });
    const b = banner(page);
    await b.getByText("Type 2 diabetes mellitus").waitFor();
    assert.match(await b.innerText(), new RegExp(`${ageOn("1970-01-15")} y · female · 71\\.5 kg`));
    assert.match(await b.locator(".allergies").innerText(), /Penicillin/);
    assert.match(await b.innerText(), /Metformin 500 mg oral tablet/);
    assert.match(await b.innerText(), /HR 88\/min/);
    assert.match(await b.getByRole("status").innerText(), /Imported from patient\.json/);
    assert.match(await b.innerText(), /FHIR/);
    const stored = (await api("GET", `/api/clinical-contexts/current?conversation_id=${conv}`)).body;
    assert.equal(stored.source, "fhir");
    assert.deepEqual(stored.allergies, ["Penicillin"]);

    // Not a bundle: the server's error, nothing changed.
    const chooser2 = page.waitForEvent("filechooser");
    await b.getByRole("button", { name: "Import FHIR" }).click();
    await (await chooser2).setFiles({ name: "notes.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify({ resourceType: "Patient" })) });
    await b.getByRole("alert").waitFor();
    assert.match(await b.getByRole("alert").innerText(), /Bundle/);
    assert.equal((await api("GET", `/api/clinical-contexts/current?conversation_id=${conv}`)).body.id, stored.id);

    // One of the Synthea patients, where the shared data has them.
    if (existsSync(FHIR_DIR)) {
      const f = readdirSync(FHIR_DIR).filter((n) => n.endsWith(".json")).sort()[0];
      const chooser3 = page.waitForEvent("filechooser");
      await b.getByRole("button", { name: "Import FHIR" }).click();
      await (await chooser3).setFiles(join(FHIR_DIR, f));
      await b.getByText(`Imported from ${f}`, { exact: false }).waitFor({ timeout: 30000 });
      const ctx = (await api("GET", `/api/clinical-contexts/current?conversation_id=${conv}`)).body;
      const bundleJson = JSON.parse(readFileSync(join(FHIR_DIR, f), "utf8"));
      const patient = bundleJson.entry.find((e) => e.resource.resourceType === "Patient").resource;
      assert.equal(ctx.gender, patient.gender);
      assert.match(await b.innerText(), new RegExp(`${ctx.age} y · ${ctx.gender}`));
      for (const p of (ctx.problems ?? []).slice(0, 3)) assert.ok((await b.innerText()).includes(p), "problem shown: " + p);
    } else {
      console.log("# the Synthea bundles are not in ../shared/data/fhir: only the hand-written bundle was imported");
    }
    await context.close();
  });

  test("attachments: upload with progress, extraction status, download, cited in a later answer, refused types, delete", async () => {
    const { page, context } = await newPage(browser);
    const address = await register(page, srv.base);
    const api = await restAs(address);
    await ask(page, "Summarise the discharge letter I am attaching.");
    const q = page.locator("article.msg.user").first();
    const mid = await q.getAttribute("data-message-id");
    // A slow upload link, so the bytes-sent progress is seen.
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
    const letter =
      "# Discharge letter\n\nWard 7B, St Mary's.\n\n" +
      "The patient was admitted with an acute gout flare of the left knee. Colchicine was started and the flare settled within three days. " +
      "Febuxostat 80 mg daily is to be started two weeks after the flare has resolved, with colchicine prophylaxis for six months.\n\n" +
      "Filler paragraph for size. ".repeat(40000);
    const chooser = page.waitForEvent("filechooser");
    await q.hover();
    await q.getByRole("button", { name: "Attach a file" }).click();
    await (await chooser).setFiles({ name: "discharge-letter.md", mimeType: "text/markdown", buffer: Buffer.from(letter) });
    await q.getByText(/Uploading \d+%/).waitFor({ timeout: 10000 });
    const progress = q.getByRole("progressbar", { name: "Uploading discharge-letter.md" });
    assert.equal(await progress.count(), 1);
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const item = q.locator(".att", { hasText: "discharge-letter.md" });
    await item.locator(".pill", { hasText: "Ready" }).waitFor({ timeout: 60000 }).catch(async () => {
      throw new Error("not ready: " + (await item.innerText()));
    });
    assert.match(await item.innerText(), /MD · 1\.\d MB/);
    const list = (await api("GET", `/api/messages/${mid}/attachments`)).body;
    assert.equal(list.length, 1);
    assert.equal(list[0].status, "ready");

    // Download: the stored bytes, under the file's name.
    const dl = page.waitForEvent("download");
    await item.getByRole("button", { name: "Download discharge-letter.md" }).click();
    const d = await dl;
    assert.equal(d.suggestedFilename(), "discharge-letter.md");
    assert.equal(readFileSync(await d.path(), "utf8").length, letter.length);

    // A later answer cites the attachment.
    await ask(page, "When should febuxostat be started after the gout flare?");
    const answer = page.locator("article.msg.assistant").last();
    await answer.locator(".source-chip", { hasText: "discharge-letter.md" }).waitFor({ timeout: 10000 }).catch(async () => {
      throw new Error("the attachment is not cited; sources: " + (await answer.locator(".sources").innerText().catch(() => "none")));
    });

    // A file of a kind not accepted: the server's 415 message, nothing kept.
    const chooser2 = page.waitForEvent("filechooser");
    await q.hover();
    await q.getByRole("button", { name: "Attach a file" }).click();
    await (await chooser2).setFiles({ name: "scan.pdf", mimeType: "application/pdf", buffer: Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x00, 0x13, 0x37]) });
    await q.getByRole("alert").waitFor();
    assert.match(await q.getByRole("alert").innerText(), /^scan\.pdf: /);
    assert.equal((await api("GET", `/api/messages/${mid}/attachments`)).body.length, 1);

    // Delete.
    await item.getByRole("button", { name: "Remove discharge-letter.md" }).click();
    await item.waitFor({ state: "detached" });
    assert.equal((await api("GET", `/api/messages/${mid}/attachments`)).body.length, 0);
    await context.close();
  });

  test("axe: the patient banner, its editor and attachments, in both themes", async () => {
    const { default: AxeBuilder } = await import("@axe-core/playwright");
    const problems = [];
    for (const theme of ["light", "dark"]) {
      const { page, context } = await newPage(browser, { theme });
      const scan = async (screen) => {
        const r = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
        for (const v of r.violations)
          if (v.impact === "serious" || v.impact === "critical") problems.push(`${theme}/${screen}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
      };
      const address = await register(page, srv.base);
      const api = await restAs(address);
      await ask(page, "What is gout?");
      await scan("no-patient");
      const conv = /#\/c\/(.+)$/.exec(page.url())[1];
      const made = await api("POST", "/api/clinical-contexts", {
        conversation_id: conv, age: 56, gender: "female", weight_kg: 71.5, chief_complaint: "Painful swollen first toe",
        problems: ["Type 2 diabetes mellitus", "Gout"], medications: ["Metformin 500 mg oral tablet"], allergies: ["Penicillin"],
        vitals: { temperature: 37.9, heart_rate: 88, blood_pressure: "138/86", respiratory_rate: 16, spo2: 97 },
      });
      assert.equal(made.status, 201);
      await page.reload();
      await banner(page).getByText("Type 2 diabetes mellitus").waitFor();
      await scan("patient-banner");
      await banner(page).getByRole("button", { name: "Edit" }).click();
      await page.getByRole("dialog", { name: "Edit the patient context" }).waitFor();
      await scan("patient-editor");
      await page.keyboard.press("Escape");
      const q = page.locator("article.msg.user").first();
      const chooser2 = page.waitForEvent("filechooser");
      await q.hover();
      await q.getByRole("button", { name: "Attach a file" }).click();
      await (await chooser2).setFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("Serum urate 9.1 mg/dL on 28 November.\n") });
      await q.locator(".att .pill", { hasText: "Ready" }).waitFor({ timeout: 60000 });
      await scan("attachments");
      await context.close();
    }
    assert.deepEqual(problems, []);
  });
});
