// The clinical record around a conversation, in a real browser against the
// real binary: folders in the sidebar (drag and drop, nesting, the
// keyboard's Move), share links (create with expiry, password and view cap;
// list; revoke; the read-only page a link opens), and the axe scan of
// these screens in both themes (docs/protocol.md "Folders", "Share links").
//
// Run: node --test tests/browser/ (ctest runs it as "browser").

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PASSWORD, email, launch, newPage, register, skipReason, startServer } from "./harness.mjs";

const reason = skipReason();
if (reason) console.log("# SKIP browser suite: " + reason);

describe("web client: folders and share links", { skip: reason ?? false, timeout: 600000 }, () => {
  let srv, browser, dir;

  before(async () => {
    // The starter knowledge base is enough here: nothing asserts on answers.
    dir = mkdtempSync(join(tmpdir(), "ms-browser-rec-"));
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
    assert.equal(r.status, 200);
    const tok = (await r.json()).access_token;
    return async (method, path, body) => {
      const res = await fetch(srv.base + path, { method, headers: { Authorization: "Bearer " + tok, "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
      return { status: res.status, body: res.status === 204 ? null : await res.json() };
    };
  }

  /** A signed-in page with conversations made over REST (answered by the
   * server's own pipeline), shown after a reload. */
  async function withConversations(titles, opts) {
    const p = await newPage(browser, opts);
    const address = await register(p.page, srv.base);
    const api = await restAs(address);
    const convs = [];
    for (const t of titles) {
      const c = (await api("POST", "/api/conversations", { title: t })).body;
      const r = await api("POST", `/api/conversations/${c.id}/messages/chat`, { text: t });
      assert.equal(r.status, 200);
      convs.push(c);
    }
    await p.page.reload();
    await p.page.getByLabel("Your question", { exact: true }).waitFor();
    return { ...p, address, api, convs };
  }

  const nav = (page) => page.getByRole("navigation", { name: "Conversations" });

  async function newFolder(page, name, parent) {
    if (parent) await folderRow(page, parent).hover();
    await nav(page).getByRole("button", { name: parent ? `New folder in “${parent}”` : "New folder", exact: true }).click();
    const input = nav(page).getByRole("textbox", { name: parent ? `New folder in “${parent}”` : "New folder name" });
    await input.fill(name);
    await input.press("Enter");
    await nav(page).getByRole("button", { name: new RegExp("^" + name) }).waitFor();
  }

  const folderRow = (page, name) => nav(page).locator(".folder-row", { has: page.locator(".folder-name", { hasText: new RegExp(`^${name}$`) }) });

  test("folders: create, nest, drag a conversation in and out, drag a folder to the top level, refuse a cycle", async () => {
    const { page, context, api, convs, errors } = await withConversations(["Gout flare in a diuretic user", "Acromegaly work-up"]);
    await newFolder(page, "Rheumatology");
    await newFolder(page, "Inpatients", "Rheumatology");
    let tree = (await api("GET", "/api/folders/tree")).body.folders;
    assert.equal(tree.length, 1);
    assert.equal(tree[0].name, "Rheumatology");
    assert.deepEqual(tree[0].children.map((f) => f.name), ["Inpatients"]);
    const rheum = tree[0].id;
    const inpatients = tree[0].children[0].id;

    // Drag a conversation onto a folder: filed there, shown inside it, gone from the list below.
    const conv = nav(page).locator(`.conv[data-conversation-id="${convs[0].id}"]`);
    await conv.dragTo(folderRow(page, "Rheumatology"));
    await page.waitForFunction((id) => document.querySelector(`.folder .conv[data-conversation-id="${id}"]`), convs[0].id);
    assert.equal((await api("GET", `/api/conversations/${convs[0].id}`)).body.folder_id, rheum);
    assert.equal(await nav(page).locator(`.unfiled .conv[data-conversation-id="${convs[0].id}"]`).count(), 0);
    assert.match(await folderRow(page, "Rheumatology").innerText(), /1/);

    // Into the subfolder, then back out onto the unfiled list.
    await nav(page).locator(`.conv[data-conversation-id="${convs[0].id}"]`).dragTo(folderRow(page, "Inpatients"));
    await page.waitForFunction(async (id) => document.querySelector(`.folder .folder .conv[data-conversation-id="${id}"]`), convs[0].id);
    assert.equal((await api("GET", `/api/conversations/${convs[0].id}`)).body.folder_id, inpatients);
    await nav(page).locator(`.conv[data-conversation-id="${convs[0].id}"]`).dragTo(nav(page).locator(".unfiled"));
    await nav(page).locator(`.unfiled .conv[data-conversation-id="${convs[0].id}"]`).waitFor();
    assert.equal((await api("GET", `/api/conversations/${convs[0].id}`)).body.folder_id, null);

    // A folder onto its own subfolder is a cycle: refused, nothing changes.
    await folderRow(page, "Rheumatology").dragTo(folderRow(page, "Inpatients"));
    await nav(page).getByRole("alert").waitFor();
    assert.match(await nav(page).getByRole("alert").innerText(), /into itself or one of its subfolders/);
    tree = (await api("GET", "/api/folders/tree")).body.folders;
    assert.equal(tree.length, 1);
    assert.equal(tree[0].children[0].id, inpatients);
    await nav(page).getByRole("button", { name: "Dismiss" }).click();

    // The subfolder dragged onto "Folders": the top level.
    await folderRow(page, "Inpatients").dragTo(nav(page).locator(".folders-head"));
    await page.waitForFunction(() => document.querySelectorAll(".folder-tree > .folder").length === 2);
    assert.equal((await api("GET", `/api/folders/${inpatients}`)).body.parent_folder_id, null);

    // The keyboard: Move, pick the folder, Move; rename; delete (its conversation moves up).
    await nav(page).locator(`.conv[data-conversation-id="${convs[1].id}"]`).hover();
    await nav(page).getByRole("button", { name: `Move “${convs[1].title}” to a folder` }).click();
    await nav(page).getByLabel(`Move “${convs[1].title}” to`).selectOption({ label: "Inpatients" });
    await nav(page).getByRole("button", { name: "Move", exact: true }).click();
    await page.waitForFunction((id) => document.querySelector(`.folder .conv[data-conversation-id="${id}"]`), convs[1].id);
    assert.equal((await api("GET", `/api/conversations/${convs[1].id}`)).body.folder_id, inpatients);
    await folderRow(page, "Inpatients").hover();
    await nav(page).getByRole("button", { name: "Rename folder “Inpatients”" }).click();
    const rn = nav(page).getByRole("textbox", { name: "Rename folder", exact: true });
    await rn.fill("Ward 7B");
    await rn.press("Enter");
    await folderRow(page, "Ward 7B").waitFor();
    assert.equal((await api("GET", `/api/folders/${inpatients}`)).body.name, "Ward 7B");
    await folderRow(page, "Ward 7B").hover();
    await nav(page).getByRole("button", { name: "Delete folder “Ward 7B”" }).click();
    await nav(page).locator(`.unfiled .conv[data-conversation-id="${convs[1].id}"]`).waitFor();
    assert.equal((await api("GET", `/api/folders/${inpatients}`)).status, 404);
    assert.equal((await api("GET", `/api/conversations/${convs[1].id}`)).body.folder_id, null);

    // A sibling with the same name is the server's 409, shown as it says.
    await newFolder(page, "Cardiology");
    await nav(page).getByRole("button", { name: "New folder", exact: true }).click();
    await nav(page).getByRole("textbox", { name: "New folder name" }).fill("cardiology");
    await nav(page).getByRole("textbox", { name: "New folder name" }).press("Enter");
    await nav(page).getByRole("alert").waitFor();
    assert.equal((await api("GET", "/api/folders/tree")).body.folders.length, 2);
    assert.deepEqual(errors.filter((e) => !/status of 409/.test(e)), []);
    await context.close();
  });

  test("share links: create with expiry, password and view cap; the link opens read-only; revoke ends it", async () => {
    const { page, context, api, convs } = await withConversations(["How is gout treated?"]);
    await nav(page).getByRole("link", { name: convs[0].title }).click();
    await page.locator('article.msg.assistant[data-status="complete"]').waitFor();
    await page.getByRole("button", { name: "Share", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: `Share “${convs[0].title}”` });
    await dialog.waitFor();
    await dialog.getByText("No links yet.").waitFor();
    await dialog.getByLabel("Expires after").selectOption({ label: "1 hour" });
    await dialog.getByLabel("Password (optional)").fill("short");
    await dialog.getByRole("button", { name: "Create link" }).click();
    assert.match(await dialog.getByRole("alert").innerText(), /at least 8 characters/);
    await dialog.getByLabel("Password (optional)").fill("ward-7b-handover");
    await dialog.getByLabel("View limit (optional)").fill("2");
    await dialog.getByRole("button", { name: "Create link" }).click();
    const url = await dialog.getByLabel("New link (shown only now)").inputValue();
    assert.match(url, /\/#\/s\/[A-Za-z0-9_-]{43}$/);
    const item = dialog.getByRole("list", { name: "Share links" }).locator("li").first();
    assert.match(await item.innerText(), /Active[\s\S]*Password[\s\S]*0 views of 2/);
    const stored = (await api("GET", `/api/sessions/${convs[0].id}/shares`)).body.shares;
    assert.equal(stored.length, 1);
    assert.equal(stored[0].password_protected, true);
    assert.equal(stored[0].max_views, 2);
    const life = (Date.parse(stored[0].expires_at) - Date.parse(stored[0].created_at)) / 1000;
    assert.ok(Math.abs(life - 3600) <= 2, "expires an hour after it was made: " + life);

    // Someone without an account opens it: password first, then the conversation, read-only.
    const reader = await newPage(browser);
    await reader.page.goto(url);
    await reader.page.getByRole("heading", { name: "This conversation is protected" }).waitFor();
    await reader.page.getByLabel("Password").fill("not-the-password");
    await reader.page.getByRole("button", { name: "Open" }).click();
    await reader.page.getByText("That password is not right.").waitFor();
    await reader.page.getByLabel("Password").fill("ward-7b-handover");
    await reader.page.getByRole("button", { name: "Open" }).click();
    await reader.page.getByRole("heading", { name: convs[0].title }).waitFor();
    assert.equal(await reader.page.locator("article.msg").count(), 2);
    await reader.page.locator("article.msg.assistant aside.disclaimer").waitFor();
    assert.match(await reader.page.locator(".shared-main").innerText(), /1 view left/);
    assert.equal(await reader.page.getByLabel("Your question", { exact: true }).count(), 0, "nothing to ask or change");
    assert.equal(await reader.page.getByRole("button", { name: "Regenerate the answer" }).count(), 0);

    // The owner sees the view counted, revokes; the link now says so.
    await dialog.getByRole("button", { name: "Close" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Share", exact: true }).click();
    await dialog.waitFor();
    // Refused: the first request without a password, then the wrong one.
    await dialog.getByText(/1 view of 2, 2 refused/).waitFor();
    await dialog.getByRole("button", { name: /^Revoke the link created/ }).click();
    await dialog.getByText("Revoked", { exact: true }).waitFor();
    assert.equal(await dialog.getByRole("button", { name: /^Revoke/ }).count(), 0);
    assert.equal((await api("GET", `/api/sessions/${convs[0].id}/shares`)).body.shares[0].state, "revoked");
    await reader.page.reload();
    await reader.page.getByText("This link was revoked by the person who shared it.").waitFor();
    // Esc closes the dialog and nothing else.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await reader.context.close();
    await context.close();
  });

  test("axe: folders, the share dialog and the shared view, in both themes", async () => {
    const { default: AxeBuilder } = await import("@axe-core/playwright");
    const problems = [];
    for (const theme of ["light", "dark"]) {
      const { page, context, api, convs } = await withConversations(["What causes kidney stones?", "Stroke warning signs"], { theme });
      const scan = async (p, screen) => {
        const r = await new AxeBuilder({ page: p }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
        for (const v of r.violations)
          if (v.impact === "serious" || v.impact === "critical") problems.push(`${theme}/${screen}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
      };
      const f = (await api("POST", "/api/folders", { name: "Nephrology" })).body;
      await api("POST", "/api/folders", { name: "Stones", parent_folder_id: f.id });
      await api("PATCH", `/api/conversations/${convs[0].id}`, { folder_id: f.id });
      await page.reload();
      await nav(page).getByRole("button", { name: /^Nephrology/ }).click();
      await nav(page).locator(`.folder .conv[data-conversation-id="${convs[0].id}"]`).waitFor();
      await scan(page, "folders");
      // The keyboard reaches a row's actions: Tab from its link shows them.
      await nav(page).getByRole("link", { name: convs[1].title }).focus();
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), `Move “${convs[1].title}” to a folder`);
      await page.keyboard.press("Enter");
      await scan(page, "move-menu");
      await nav(page).getByRole("button", { name: "Cancel" }).click();
      await nav(page).getByRole("link", { name: convs[1].title }).click();
      await page.locator('article.msg.assistant[data-status="complete"]').waitFor();
      await page.getByRole("button", { name: "Share", exact: true }).click();
      const dialog = page.getByRole("dialog");
      await dialog.getByRole("button", { name: "Create link" }).click();
      const url = await dialog.getByLabel("New link (shown only now)").inputValue();
      await scan(page, "share-dialog");
      const reader = await newPage(browser, { theme });
      await reader.page.goto(url);
      await reader.page.locator("article.msg.assistant").waitFor();
      await scan(reader.page, "shared-view");
      await reader.context.close();
      await api("POST", `/api/sessions/${convs[1].id}/share`, { password: "a-long-password" }).then(async (r) => {
        const p = await newPage(browser, { theme });
        await p.page.goto(srv.base + "/#/s/" + r.body.token);
        await p.page.getByRole("heading", { name: "This conversation is protected" }).waitFor();
        await scan(p.page, "shared-password");
        await p.context.close();
      });
      await context.close();
    }
    assert.deepEqual(problems, []);
  });

  test("another user's share link list and folders are not reachable from the page", async () => {
    const a = await withConversations(["Private question"]);
    const b = await newPage(browser);
    await register(b.page, srv.base, email("other"));
    const folderA = (await a.api("POST", "/api/folders", { name: "Mine" })).body;
    await b.page.reload();
    await b.page.getByLabel("Your question", { exact: true }).waitFor();
    assert.equal(await nav(b.page).locator(".folder").count(), 0);
    assert.equal(await nav(b.page).getByText("Mine").count(), 0);
    assert.ok(folderA.id);
    await a.context.close();
    await b.context.close();
  });
});
