/// <reference types="vitest/config" />
// The web client's build: Preact through Vite's own JSX transform (no
// plugin), output in ui/.build, which ui/scripts/pack.mjs compresses into
// the committed ui/dist. Deterministic: no timestamps, no absolute paths,
// content-hashed file names.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "/",
  publicDir: "public",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: { alias: { react: "preact/compat", "react-dom": "preact/compat" } },
  build: {
    outDir: ".build",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0, // every asset a file: CSP has no data: for scripts or styles
    cssCodeSplit: false,
    reportCompressedSize: false,
    rollupOptions: { output: { entryFileNames: "assets/[name]-[hash].js", chunkFileNames: "assets/[name]-[hash].js", assetFileNames: "assets/[name]-[hash][extname]" } },
  },
  test: {
    root,
    environment: "jsdom",
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    reporters: ["default"],
  },
});
