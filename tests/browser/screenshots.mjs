// PNGs of the main screens, in both themes, for docs/screenshots (make
// screenshots). Real server, real answers (MedQuAD when ../shared/data has
// it), a few earlier conversations asked through the REST API first.
//
// usage: node tests/browser/screenshots.mjs OUTDIR

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PASSWORD, launch, newPage, prepareKb, signIn, skipReason, startServer } from "./harness.mjs";

const out = resolve(process.argv[2] || "docs/screenshots");
const why = skipReason();
if (why) {
  console.error(why);
  process.exit(1);
}
mkdirSync(out, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), "ms-shots-"));
const kb = prepareKb(dir);
const srv = await startServer({ dataDir: dir });
const browser = await launch();

async function json(method, path, token, body) {
  const r = await fetch(srv.base + path, { method, headers: { "Content-Type": "application/json", ...(token ? { Authorization: "Bearer " + token } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return r.json();
}

try {
  const email = "dr.okafor@stmarys.example";
  const reg = await json("POST", "/api/auth/register", null, { email, password: PASSWORD });
  const tok = reg.access_token;
  for (const q of ["What causes chronic kidney disease?", "How is gout treated?", "What are the warning signs of a stroke?"]) {
    const c = await json("POST", "/api/conversations", tok, { title: q });
    await json("POST", `/api/conversations/${c.id}/messages/chat`, tok, { text: q });
  }
  for (const theme of ["light", "dark"]) {
    const shot = (page, name) => page.screenshot({ path: join(out, `${name}-${theme}.png`) });
    const { page, context } = await newPage(browser, { theme });
    await page.goto(srv.base + "/");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByLabel("Email").fill(email);
    await shot(page, "sign-in");
    await signIn(page, srv.base, email);
    await page.getByRole("heading", { name: "What would you like to look up?" }).waitFor();
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
    await context.close();
  }
  console.log(`screenshots (${kb} knowledge base) in ${out}`);
} finally {
  await browser.close();
  await srv.stop();
  rmSync(dir, { recursive: true, force: true });
}
