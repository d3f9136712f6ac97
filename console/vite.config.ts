import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

const dynamicCSSShim = fileURLToPath(new URL("./src/dynamicCSS.ts", import.meta.url));

// nonceStyles points every import of rc-util's dynamicCSS (however it is
// spelled: bare, or relative inside rc-util) at src/dynamicCSS.ts, which
// gives the <style> elements it inserts the page's CSP nonce. The shim's
// own import of the original is left alone. A build that redirected no
// import fails: the libraries moved, and the shim no longer does its job.
function nonceStyles(): Plugin {
  let redirected = 0;
  return {
    name: "paradise-nonce-styles",
    enforce: "pre",
    buildStart() {
      redirected = 0;
    },
    buildEnd(err) {
      if (!err && redirected === 0) this.error("no import of rc-util/es/Dom/dynamicCSS was redirected to src/dynamicCSS.ts");
    },
    async resolveId(source, importer, options) {
      if (!importer || importer === dynamicCSSShim || !/dynamicCSS(\.js)?$/.test(source)) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (resolved && /[\\/]rc-util[\\/]es[\\/]Dom[\\/]dynamicCSS\.js$/.test(resolved.id)) {
        redirected++;
        return dynamicCSSShim;
      }
      return null;
    },
  };
}

// The console is served by `paradise serve` at /admin/ from
// internal/console/dist (embedded in the binary and committed; `make
// console` rebuilds it). The build must be deterministic: the same sources
// and lockfile give the same files, which CI checks.
export default defineConfig({
  base: "/admin/",
  plugins: [nonceStyles(), react()],
  build: {
    outDir: "../internal/console/dist",
    emptyOutDir: true,
    sourcemap: false,
    // One script and one stylesheet are simpler to serve and to check.
    chunkSizeWarningLimit: 2000,
    rollupOptions: { output: { manualChunks: undefined } },
  },
});
