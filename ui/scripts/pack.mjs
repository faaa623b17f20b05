// Compresses a Vite build (SRC) into the committed bundle (DST): every file
// becomes DST/<path>.gz, gzip level 9 with a zero mtime, no file name and a
// fixed OS byte, from fflate (pure JavaScript, pinned in package-lock.json),
// so the same sources give the same bytes on any machine and Node version.
// Files in DST that the build no longer has are removed.
//
// usage: node ui/scripts/pack.mjs SRC DST

import { gzipSync } from "fflate";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const [src, dst] = process.argv.slice(2);
if (!src || !dst) {
  console.error("usage: node ui/scripts/pack.mjs SRC DST");
  process.exit(2);
}

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

export function gzip(bytes) {
  const gz = gzipSync(bytes, { level: 9, mem: 12, mtime: 0 });
  gz[9] = 3; // OS: Unix (RFC 1952 section 2.3.1), whatever fflate writes
  return gz;
}

const keep = new Set();
let total = 0;
let js = 0;
for (const f of walk(src)) {
  const rel = relative(src, f).split("\\").join("/");
  const out = join(dst, rel + ".gz");
  const gz = gzip(readFileSync(f));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, gz);
  keep.add(out);
  total += gz.length;
  if (rel.endsWith(".js")) js += gz.length;
}
try {
  for (const f of walk(dst)) if (!keep.has(f)) rmSync(f);
} catch {
  /* DST was empty */
}
// The first-load budget (issue 10): every script the page loads, gzipped.
const BUDGET_JS = 150 * 1024;
if (js > BUDGET_JS) {
  console.error(`ui: ${(js / 1024).toFixed(1)} KiB of gzipped JavaScript is over the ${BUDGET_JS / 1024} KiB first-load budget`);
  process.exit(1);
}
console.log(`ui: ${keep.size} files, ${(total / 1024).toFixed(1)} KiB gzipped (JavaScript ${(js / 1024).toFixed(1)} KiB) in ${dst}`);
