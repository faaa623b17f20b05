// Shared by the browser tests: the real medstream binary on a fresh data
// directory (MedQuAD imported when ../shared/data has it, the starter
// knowledge base otherwise) and Debian's chromium driven by playwright-core.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CHROMIUM = process.env.MS_CHROMIUM || "/usr/bin/chromium";
export const MEDQUAD = resolve(REPO, "../shared/data/medquad/medquad-xml.tar.gz");
export const BIN = process.env.MEDSTREAM_BIN || join(REPO, "build/medstream");
export const PASSWORD = "correct horse battery staple";

/** Why the browser suite cannot run here, or null. Only a missing browser
 * (or binary) is a reason: everything else is a failure. */
export function skipReason() {
  if (!existsSync(CHROMIUM)) return `chromium not found at ${CHROMIUM} (apt-get install chromium); browser tests skipped`;
  if (!existsSync(BIN)) return `medstream binary not found at ${BIN} (make build)`;
  return null;
}

export const LAUNCH_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A fresh chromium (playwright gives every launch its own new, temporary
 * --user-data-dir, removed at close). */
export async function launch() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, timeout: 60000 });
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MEDSTREAM_")));

/** Imports MedQuAD into dataDir when the shared data set is there; returns
 * which knowledge base the server will have. */
export function prepareKb(dataDir) {
  if (!existsSync(MEDQUAD)) return "starter";
  const r = spawnSync(BIN, ["kb", "import", "--data-dir", dataDir, "--format", "medquad", MEDQUAD], {
    env: cleanEnv(),
    encoding: "utf8",
    timeout: 1800000,
  });
  if (r.status !== 0) throw new Error(`kb import failed (${r.status}): ${(r.stderr || "").slice(-2000)}`);
  return "medquad";
}

/** Starts `medstream serve`; resolves once /ready answers. */
export async function startServer({ dataDir, flags = [] } = {}) {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "ms-browser-"));
  const port = await freePort();
  const args = ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dir, "--provider", "offline", "--word-interval-ms", "30", "--log-level", "warn", ...flags];
  const proc = spawn(BIN, args, { env: cleanEnv(), stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => {
    stderr += d;
    if (stderr.length > 200000) stderr = stderr.slice(-100000);
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`medstream exited ${proc.exitCode}: ${stderr.slice(-2000)}`);
    try {
      const r = await fetch(base + "/ready");
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error("medstream did not become ready: " + stderr.slice(-2000));
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    port,
    dir,
    proc,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        await new Promise((r) => {
          const t = setTimeout(() => {
            proc.kill("SIGKILL");
            r();
          }, 5000);
          proc.on("exit", () => {
            clearTimeout(t);
            r();
          });
        });
      }
      const bad = /ERROR: (Address|Leak)Sanitizer|runtime error:/.exec(stderr);
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
      if (bad) throw new Error("sanitizer report from medstream:\n" + stderr.slice(Math.max(0, bad.index - 200), bad.index + 4000));
    },
  };
}

/** Records the sockets the page opens (to make the server close one) and
 * every connection state the status badge shows. Runs before page scripts. */
export const INIT_SCRIPT = `
  window.__sockets = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...a) { super(...a); window.__sockets.push(this); }
  };
  window.__states = [];
  new MutationObserver(() => {
    const el = document.getElementById("conn-status");
    const s = el && el.dataset.state;
    if (s && window.__states[window.__states.length - 1] !== s) window.__states.push(s);
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
`;

export async function newPage(browser, { theme = "light", viewport = { width: 1360, height: 860 } } = {}) {
  const context = await browser.newContext({ viewport, colorScheme: theme, reducedMotion: "reduce" });
  await context.addInitScript(INIT_SCRIPT);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (400|401|404)/.test(m.text())) errors.push(m.text());
  });
  return { context, page, errors };
}

let n = 0;
export function email(tag = "u") {
  return `${tag}-${process.pid}-${Date.now().toString(36)}-${n++}@example.test`;
}

export async function register(page, base, address = email()) {
  await page.goto(base + "/");
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Email").fill(address);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByLabel("Your question", { exact: true }).waitFor();
  return address;
}

export async function signIn(page, base, address) {
  await page.goto(base + "/");
  await page.getByLabel("Email").fill(address);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Your question", { exact: true }).waitFor();
}

export const axeSource = () => readFileSync(join(REPO, "node_modules/axe-core/axe.min.js"), "utf8");
