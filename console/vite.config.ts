import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The console is served by `paradise serve` at /admin/ from
// internal/console/dist (embedded in the binary and committed; `make
// console` rebuilds it). The build must be deterministic: the same sources
// and lockfile give the same files, which CI checks.
export default defineConfig({
  base: "/admin/",
  plugins: [react()],
  build: {
    outDir: "../internal/console/dist",
    emptyOutDir: true,
    sourcemap: false,
    // One script and one stylesheet are simpler to serve and to check.
    chunkSizeWarningLimit: 2000,
    rollupOptions: { output: { manualChunks: undefined } },
  },
});
