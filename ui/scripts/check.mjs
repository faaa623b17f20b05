// Rebuilds the web client from ui/src into a temporary directory and
// compares it, file by file and byte by byte, with the committed ui/dist.
// Exits 1 (listing the differences) when the committed bundle is not the
// build of its sources: run `make ui` and commit ui/dist.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const tmp = mkdtempSync(join(tmpdir(), "ms-ui-check-"));
const walk = (d) => readdirSync(d).sort().flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
try {
  const vite = join(root, "node_modules/vite/bin/vite.js");
  execFileSync(process.execPath, [vite, "build", "--config", "ui/vite.config.ts", "--outDir", join(tmp, "raw")], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  execFileSync(process.execPath, ["ui/scripts/pack.mjs", join(tmp, "raw"), join(tmp, "dist")], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  const want = new Map(walk(join(tmp, "dist")).map((f) => [relative(join(tmp, "dist"), f), readFileSync(f)]));
  const have = new Map(walk(join(root, "ui/dist")).map((f) => [relative(join(root, "ui/dist"), f), readFileSync(f)]));
  const diffs = [];
  for (const [k, v] of want) if (!have.has(k)) diffs.push("missing from ui/dist: " + k);
  else if (!have.get(k).equals(v)) diffs.push("differs: ui/dist/" + k);
  for (const k of have.keys()) if (!want.has(k)) diffs.push("stale in ui/dist: " + k);
  if (diffs.length) {
    console.error("ui/dist is not the build of ui/src (run `make ui` and commit ui/dist):\n  " + diffs.join("\n  "));
    process.exit(1);
  }
  console.log(`ui/dist matches a fresh build of ui/src (${want.size} files)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
