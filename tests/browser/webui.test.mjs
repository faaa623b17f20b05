// The web client in a real browser (Debian's chromium through
// playwright-core) against the real medstream binary: what a clinician
// does, and what must hold while they do it (docs/protocol.md).
//
// Run: node --test tests/browser/  (ctest runs it as "browser"). Skipped,
// with the reason, only when chromium or the binary is absent.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PASSWORD, email, launch, newPage, prepareKb, register, signIn, skipReason, startServer } from "./harness.mjs";

const reason = skipReason();
if (reason) console.log("# SKIP browser suite: " + reason);

const QUESTION = "What are the symptoms of acromegaly?";

describe("web client", { skip: reason ?? false, timeout: 900000 }, () => {
  let srv, browser, dir, kb;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ms-browser-"));
    kb = prepareKb(dir);
    console.log(`# knowledge base: ${kb}`);
    srv = await startServer({ dataDir: dir });
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** REST as the same user, for checking what the server stored. */
  async function restAs(address) {
    const r = await fetch(srv.base + "/api/auth/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ email: address, password: PASSWORD }) });
    assert.equal(r.status, 200);
    const tok = (await r.json()).access_token;
    return async (method, path, body) => {
      const res = await fetch(srv.base + path, { method, headers: { Authorization: "Bearer " + tok, "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
      return { status: res.status, body: res.status === 204 ? null : await res.json() };
    };
  }

  const lastAnswer = (page) => page.locator("article.msg.assistant").last();

  async function ask(page, text = QUESTION) {
    const box = page.getByLabel("Your question", { exact: true });
    await box.fill(text);
    await box.press("Enter");
  }

  async function waitDone(page, status = "complete") {
    await page.locator(`article.msg.assistant[data-status="${status}"]`).last().waitFor({ timeout: 60000 });
  }

  test("sign in, ask, see the answer stream, then its citations", async () => {
    const { page, context, errors } = await newPage(browser);
    const address = await register(page, srv.base);
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(page, srv.base, address);
    assert.match(await page.locator(".account .email").innerText(), new RegExp(address.replace(/[.+]/g, "\\$&")));
    await ask(page);
    // Partial text while the message is still streaming (aria-busy).
    await page.waitForFunction(() => {
      const a = [...document.querySelectorAll("article.msg.assistant")].pop();
      return a && a.getAttribute("aria-busy") === "true" && (a.querySelector(".prose")?.textContent ?? "").length > 20;
    }, null, { timeout: 30000 });
    const partial = await lastAnswer(page).locator(".prose").innerText();
    await waitDone(page);
    const full = await lastAnswer(page).locator(".prose").innerText();
    assert.ok(full.length > partial.length, "the answer grew after the first tokens were shown");
    assert.ok(full.toLowerCase().includes("acromegaly"));
    // Markers are links, sources listed by document name, disclaimer apart.
    const markers = await lastAnswer(page).locator("a.cite").count();
    assert.ok(markers > 0, "numbered citation markers");
    const chips = lastAnswer(page).locator(".source-chip");
    assert.ok((await chips.count()) > 0);
    const titles = await chips.locator(".t").allInnerTexts();
    for (const t of titles) assert.doesNotMatch(t, /\?\s*$/, "a source is named by its document, not the question: " + t);
    assert.equal(new Set(titles.map((t, i) => t + "|" + i)).size, titles.length);
    const disclaimer = lastAnswer(page).locator("aside.disclaimer");
    assert.ok((await disclaimer.innerText()).toLowerCase().includes("disclaimer"));
    assert.ok(!full.toLowerCase().includes("medical disclaimer"), "the disclaimer is not inside the answer text");
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("a citation marker shows its source on hover and opens the sources panel", async () => {
    const { page, context } = await newPage(browser);
    await register(page, srv.base);
    await ask(page);
    await waitDone(page);
    const marker = lastAnswer(page).locator("a.cite").first();
    const n = await marker.getAttribute("data-cite");
    await marker.hover();
    const tip = page.getByRole("tooltip");
    await tip.waitFor();
    assert.ok((await tip.innerText()).length > 3);
    await marker.click();
    const panel = page.getByRole("complementary", { name: "Sources" });
    await panel.waitFor();
    const focused = panel.locator(`li[data-indexes~="${n}"]`);
    assert.equal(await focused.getAttribute("class"), "focused");
    assert.ok((await focused.locator("blockquote").count()) > 0, "quoted text");
    const href = await focused.locator("a.src-url").getAttribute("href");
    assert.match(href, /^https?:\/\//);
    assert.match(await focused.innerText(), /Relevance/);
    // Focus moved into the panel; Esc closes it.
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), "H3");
    await page.keyboard.press("Escape");
    await panel.waitFor({ state: "detached" });
    await context.close();
  });

  test("reload mid-answer: still signed in, and the answer completes exactly once", async () => {
    const { page, context } = await newPage(browser);
    const address = await register(page, srv.base);
    await ask(page);
    await page.waitForFunction(() => (document.querySelector("article.msg.assistant .prose")?.textContent ?? "").length > 10, null, { timeout: 30000 });
    await page.reload();
    await page.getByLabel("Your question", { exact: true }).waitFor();
    await waitDone(page);
    assert.equal(await page.locator("article.msg.assistant").count(), 1);
    assert.equal(await page.locator("article.msg.user").count(), 1);
    const shown = await lastAnswer(page).evaluate((a) => {
      const c = a.querySelector(".prose").cloneNode(true);
      for (const m of c.querySelectorAll("a.cite")) m.remove();
      return c.textContent;
    });
    const api = await restAs(address);
    const convs = (await api("GET", "/api/conversations")).body.conversations;
    assert.equal(convs.length, 1);
    const msgs = (await api("GET", `/api/conversations/${convs[0].id}/messages`)).body.messages;
    assert.equal(msgs.length, 2, "one question, one answer: nothing asked twice");
    assert.equal(msgs[1].status, "complete");
    const words = (s) => s.replace(/\[\d+(?:,\s*\d+)*\]/g, "").replace(/[^\p{L}\p{N}]+/gu, " ").trim();
    const stored = msgs[1].content.slice(0, msgs[1].content.lastIndexOf(msgs[1].disclaimer));
    assert.equal(words(shown), words(stored), "the page shows exactly the stored text: nothing repeated or lost");
    await context.close();
  });

  test("the server closes the socket: reconnecting, connected, and the answer finishes", async () => {
    const { page, context } = await newPage(browser);
    const address = await register(page, srv.base);
    await page.waitForFunction(() => window.__states.includes("connected"));
    await ask(page);
    await page.waitForFunction(() => (document.querySelector("article.msg.assistant .prose")?.textContent ?? "").length > 10, null, { timeout: 30000 });
    // A frame that is not JSON: the server itself closes the connection (4000).
    const code = await page.evaluate(
      () =>
        new Promise((res) => {
          const ws = window.__sockets[window.__sockets.length - 1];
          ws.addEventListener("close", (e) => res(e.code));
          ws.send("this is not json");
        }),
    );
    assert.equal(code, 4000);
    await page.waitForFunction(() => {
      const s = window.__states;
      const i = s.lastIndexOf("reconnecting");
      return i >= 0 && s.indexOf("connected", i) > i;
    }, null, { timeout: 60000 });
    await waitDone(page);
    const api = await restAs(address);
    const conv = (await api("GET", "/api/conversations")).body.conversations[0];
    const msgs = (await api("GET", `/api/conversations/${conv.id}/messages`)).body.messages;
    assert.equal(msgs.length, 2);
    assert.equal(msgs[1].status, "complete");
    assert.equal(await page.locator("article.msg.assistant").count(), 1);
    await context.close();
  });

  test("Esc cancels the answer; the disclaimer is still shown", async () => {
    const { page, context } = await newPage(browser);
    const address = await register(page, srv.base);
    await ask(page, "What are the treatments for acromegaly and what is the outlook?");
    await page.waitForFunction(() => (document.querySelector("article.msg.assistant .prose")?.textContent ?? "").length > 5, null, { timeout: 30000 });
    await page.keyboard.press("Escape");
    await waitDone(page, "cancelled");
    assert.match(await lastAnswer(page).locator(".note.cancelled").innerText(), /Stopped/);
    await lastAnswer(page).locator("aside.disclaimer").waitFor();
    const api = await restAs(address);
    const conv = (await api("GET", "/api/conversations")).body.conversations[0];
    const msgs = (await api("GET", `/api/conversations/${conv.id}/messages`)).body.messages;
    assert.equal(msgs[1].status, "cancelled");
    // The Stop button is back to Send.
    await page.getByRole("button", { name: "Send", exact: true }).waitFor();
    await context.close();
  });

  test("regenerate asks the same question again as a new answer", async () => {
    const { page, context } = await newPage(browser);
    const address = await register(page, srv.base);
    await ask(page);
    await waitDone(page);
    await lastAnswer(page).getByRole("button", { name: "Regenerate the answer" }).click();
    await page.waitForFunction(() => document.querySelectorAll('article.msg.assistant[data-status="complete"]').length === 2, null, { timeout: 60000 });
    const api = await restAs(address);
    const conv = (await api("GET", "/api/conversations")).body.conversations[0];
    const msgs = (await api("GET", `/api/conversations/${conv.id}/messages`)).body.messages;
    assert.deepEqual(msgs.map((m) => m.role), ["user", "assistant", "user", "assistant"]);
    assert.equal(msgs[0].content, msgs[2].content);
    await context.close();
  });

  test("edit and resend sends the edited question", async () => {
    const { page, context } = await newPage(browser);
    await register(page, srv.base);
    await ask(page);
    await waitDone(page);
    await page.locator("article.msg.user").last().hover();
    await page.getByRole("button", { name: "Edit and resend" }).click();
    const box = page.getByLabel("Edit your question").locator("textarea");
    await box.fill("What causes acromegaly?");
    await box.press("Enter");
    await page.waitForFunction(() => document.querySelectorAll('article.msg.assistant[data-status="complete"]').length === 2, null, { timeout: 60000 });
    assert.equal(await page.locator("article.msg.user .bubble").last().innerText(), "What causes acromegaly?");
    await context.close();
  });

  test("feedback with a comment is stored on the message", async () => {
    const { page, context } = await newPage(browser);
    const address = await register(page, srv.base);
    await ask(page);
    await waitDone(page);
    await lastAnswer(page).getByRole("button", { name: "Not helpful" }).click();
    await page.getByLabel("What was wrong or missing? (optional)").fill("Missed the IGF-1 test");
    await page.getByRole("button", { name: "Send feedback" }).click();
    const mid = await lastAnswer(page).getAttribute("data-message-id");
    const api = await restAs(address);
    let fb;
    for (let i = 0; i < 50; i++) {
      fb = await api("GET", `/api/messages/${mid}/feedback`);
      if (fb.status === 200 && fb.body.comment) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(fb.status, 200);
    assert.equal(fb.body.rating, "down");
    assert.equal(fb.body.comment, "Missed the IGF-1 test");
    assert.equal(await lastAnswer(page).getByRole("button", { name: "Not helpful" }).getAttribute("aria-pressed"), "true");
    // Shown again after a reload.
    await page.reload();
    await waitDone(page);
    assert.equal(await lastAnswer(page).getByRole("button", { name: "Not helpful" }).getAttribute("aria-pressed"), "true");
    await context.close();
  });

  test("an old conversation reopens from the sidebar; search, rename and delete with undo", async () => {
    const { page, context } = await newPage(browser);
    await register(page, srv.base);
    await ask(page);
    await waitDone(page);
    const firstAnswer = await lastAnswer(page).locator(".prose").innerText();
    await page.keyboard.press("Control+Shift+O");
    await page.getByRole("heading", { name: "What would you like to look up?" }).waitFor();
    await ask(page, "How is gout treated?");
    await waitDone(page);
    const nav = page.getByRole("navigation", { name: "Conversations" });
    await nav.getByRole("link", { name: QUESTION }).click();
    await page.waitForFunction((q) => document.querySelector("article.msg.user .bubble")?.textContent === q, QUESTION);
    assert.equal(await lastAnswer(page).locator(".prose").innerText(), firstAnswer);
    // Ctrl+K searches titles and contents.
    await page.keyboard.press("Control+k");
    await page.keyboard.type("gout");
    await page.getByText("1 matching conversation").waitFor();
    assert.equal(await nav.locator(".conv a").count(), 1);
    await page.getByLabel("Search conversations").fill("");
    await nav.getByRole("link", { name: QUESTION }).waitFor();
    // Rename.
    await nav.getByRole("button", { name: `Rename “${QUESTION}”` }).click();
    const input = nav.getByLabel("Rename conversation");
    await input.fill("Acromegaly, ward 7B");
    await input.press("Enter");
    await nav.getByRole("link", { name: "Acromegaly, ward 7B" }).waitFor();
    // Delete, undo, delete.
    await nav.getByRole("button", { name: "Delete “Acromegaly, ward 7B”" }).click();
    await nav.getByRole("link", { name: "Acromegaly, ward 7B" }).waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Undo" }).click();
    await nav.getByRole("link", { name: "Acromegaly, ward 7B" }).waitFor();
    await context.close();
  });

  test("two users are isolated", async () => {
    const a = await newPage(browser);
    const b = await newPage(browser);
    await register(a.page, srv.base);
    await ask(a.page, "What is acromegaly?");
    await waitDone(a.page);
    const convA = /#\/c\/(.+)$/.exec(a.page.url())[1];
    await register(b.page, srv.base);
    const nav = b.page.getByRole("navigation", { name: "Conversations" });
    await nav.getByText("Your conversations will appear here.").waitFor();
    await b.page.goto(srv.base + "/#/c/" + convA);
    await b.page.getByRole("heading", { name: "Conversation not found" }).waitFor();
    assert.equal(await b.page.locator("article.msg").count(), 0);
    await a.context.close();
    await b.context.close();
  });

  test("sign out revokes the session: a reload shows the sign-in screen", async () => {
    const { page, context } = await newPage(browser);
    await register(page, srv.base);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.reload();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    const cookies = await context.cookies();
    assert.equal(cookies.filter((c) => c.name === "ms_refresh").length, 0);
    await context.close();
  });

  test("axe: no serious or critical violations on any screen, in both themes", async () => {
    const { default: AxeBuilder } = await import("@axe-core/playwright");
    const problems = [];
    for (const theme of ["light", "dark"]) {
      const { page, context } = await newPage(browser, { theme });
      const scan = async (screen) => {
        const r = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
        for (const v of r.violations)
          if (v.impact === "serious" || v.impact === "critical") problems.push(`${theme}/${screen}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
      };
      await page.goto(srv.base + "/");
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await scan("sign-in");
      await page.getByRole("button", { name: "Create an account" }).click();
      await scan("register");
      await page.getByLabel("Email").fill(email("axe"));
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByRole("heading", { name: "What would you like to look up?" }).waitFor();
      await scan("empty");
      await ask(page);
      await waitDone(page);
      await scan("answer");
      await lastAnswer(page).locator("a.cite").first().click();
      await page.getByRole("complementary", { name: "Sources" }).waitFor();
      await scan("sources");
      await page.getByRole("button", { name: "Telemetry" }).click();
      await page.getByRole("complementary", { name: "Telemetry" }).waitFor();
      await scan("telemetry");
      await lastAnswer(page).getByRole("button", { name: "Helpful", exact: true }).click();
      await scan("feedback");
      await context.close();
    }
    assert.deepEqual(problems, []);
  });

  test("telemetry shows the tool call, result, routing and model call the server sent, in order", async () => {
    const { page, context } = await newPage(browser);
    // What the server sent on the socket, to compare the panel with.
    const received = [];
    page.on("websocket", (ws) => ws.on("framereceived", (f) => {
      try {
        received.push(JSON.parse(f.payload));
      } catch {
        /* not JSON */
      }
    }));
    await register(page, srv.base);
    await page.getByRole("button", { name: "Telemetry" }).click();
    await ask(page);
    await waitDone(page);
    const panel = page.getByRole("complementary", { name: "Telemetry" });
    const rows = await panel.locator(".tel-title").allInnerTexts();
    const sent = received.filter((e) => ["tool_call", "tool_result", "routing", "llm_call", "llm_result"].includes(e.type));
    const call = sent.find((e) => e.type === "llm_call");
    const result = sent.find((e) => e.type === "llm_result");
    const routing = sent.find((e) => e.type === "routing");
    assert.ok(call && result && routing, "the server sent routing, llm_call and llm_result");
    assert.deepEqual(rows, [
      "Tool call · kb_search",
      "Tool result · kb_search",
      `Routing · ${routing.decision}`,
      `LLM call · ${call.provider} · ${call.model}`,
      `LLM result · ${result.provider} · ${result.model}`,
    ]);
    assert.equal(routing.phi_detected, false);
    assert.match(await panel.locator(".tel.routing").innerText(), /PHI none/);
    assert.match(await panel.locator(".tel.llm_call").innerText(), new RegExp(`${call.local ? "local" : "remote"}[\\s\\S]*attempt ${call.attempt}`));
    const res = await panel.locator(".tel.llm_result").innerText();
    assert.match(res, new RegExp(`completion ${result.completion_tokens.toLocaleString("en-US")} tok`));
    assert.match(res, new RegExp(`finish ${result.finish_reason}`));
    assert.match(res, /TTFT (—|[\d.]+ m?s)/);
    assert.match(await panel.locator(".tel.tool_call").innerText(), /acromegaly/i);
    assert.match(await panel.locator(".tel.tool_result").innerText(), /\d+ passages/);
    const stats = await panel.locator(".stats").innerText();
    assert.match(stats, /Retrieval\s+[\d.]+ m?s/i);
    assert.match(stats, /Tokens\s+[\d,]+ → [\d,]+/i);
    // The offline answerer measures no grounding: the panel says so instead of inventing one.
    const g = result.grounding;
    assert.match(stats, g == null ? /Grounding\s+—/i : new RegExp(`Grounding\\s+${Math.round(g * 100)}%`, "i"));
    await context.close();
  });

  test("the model picker lists the server's routes and the message names the chosen one", async () => {
    const { page, context } = await newPage(browser);
    const sentFrames = [];
    page.on("websocket", (ws) => ws.on("framesent", (f) => {
      try {
        sentFrames.push(JSON.parse(f.payload));
      } catch {
        /* not JSON */
      }
    }));
    const address = await register(page, srv.base);
    const api = await restAs(address);
    const models = (await api("GET", "/api/models")).body;
    const picker = page.getByLabel("Model");
    await picker.waitFor();
    const options = await picker.locator("option").evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(options, models.models.map((m) => m.id));
    assert.equal(await picker.inputValue(), models.default);
    await picker.selectOption(models.models.at(-1).id);
    await ask(page);
    await waitDone(page);
    const msg = sentFrames.find((f) => f.type === "message");
    assert.equal(msg.model, models.models.at(-1).id);
    // The pick is kept across a reload.
    await page.reload();
    await page.getByLabel("Model").waitFor();
    assert.equal(await page.getByLabel("Model").inputValue(), models.models.at(-1).id);
    await context.close();
  });

  test("keyboard: Ctrl+K searches conversations, Ctrl+Shift+O starts a new chat (and Meta on macOS)", async () => {
    const { page, context } = await newPage(browser);
    await register(page, srv.base);
    await ask(page, "What is gout?");
    await waitDone(page);
    const convUrl = page.url();
    assert.match(convUrl, /#\/c\//);
    await page.getByLabel("Your question", { exact: true }).focus();
    await page.keyboard.press("Control+k");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "conv-search");
    await page.keyboard.type("zzzz-no-such-thing");
    await page.getByText("No conversation matches.").waitFor();
    await page.getByLabel("Search conversations").fill("");
    await page.locator("body").click({ position: { x: 700, y: 400 } });
    await page.keyboard.press("Meta+k");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "conv-search");
    await page.keyboard.press("Control+Shift+O");
    await page.getByRole("heading", { name: "What would you like to look up?" }).waitFor();
    assert.equal(await page.locator("article.msg").count(), 0);
    assert.doesNotMatch(page.url(), /#\/c\//);
    assert.equal(await page.evaluate(() => document.activeElement?.id), "composer-input");
    // Back to the conversation, then Meta+Shift+O.
    await page.goto(convUrl);
    await waitDone(page);
    await page.keyboard.press("Meta+Shift+O");
    await page.getByRole("heading", { name: "What would you like to look up?" }).waitFor();
    await context.close();
  });

  test("Lighthouse accessibility is at least 90 on the sign-in and chat screens", async (t) => {
    let lighthouse, chromeLauncher;
    try {
      lighthouse = (await import("lighthouse")).default;
      chromeLauncher = await import("chrome-launcher");
    } catch (e) {
      t.skip("lighthouse is not installed: " + e.message);
      return;
    }
    const { CHROMIUM, LAUNCH_ARGS } = await import("./harness.mjs");
    const chrome = await chromeLauncher.launch({ chromePath: CHROMIUM, chromeFlags: LAUNCH_ARGS, userDataDir: mkdtempSync(join(tmpdir(), "ms-lh-")) });
    try {
      const scores = {};
      const run = async (name, headers) => {
        const r = await lighthouse(srv.base + "/", { port: chrome.port, onlyCategories: ["accessibility"], output: "json", logLevel: "error", extraHeaders: headers });
        scores[name] = r.lhr.categories.accessibility.score;
        const failing = Object.values(r.lhr.audits).filter((a) => a.score === 0 && a.scoreDisplayMode === "binary").map((a) => a.id);
        console.log(`# lighthouse accessibility ${name}: ${Math.round(scores[name] * 100)}${failing.length ? " (failing: " + failing.join(", ") + ")" : ""}`);
      };
      await run("sign-in");
      // Signed in: a refresh cookie of a fresh session, sent on every request.
      const address = email("lh");
      const reg = await fetch(srv.base + "/api/auth/register", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ email: address, password: PASSWORD, use_cookie: true }) });
      const cookie = reg.headers.get("set-cookie").split(";")[0];
      await run("chat", { Cookie: cookie });
      for (const [k, v] of Object.entries(scores)) assert.ok(v >= 0.9, `${k}: ${v}`);
    } finally {
      await chrome.kill();
    }
  });
});
