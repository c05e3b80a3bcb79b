// @ts-check
// The single-page app's own origin: a tiny static server on 127.0.0.1 (port 0) serving an
// HTML page and the esbuild bundle of e2e/browser/page.ts. Its origin differs from the
// peers' (another port), so every call the page makes to them is a real CORS request.
import { serve } from '../loopback.mjs';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Bundles a page script as an app would: 'dpop-fetch' resolves through package.json exports
 * to dist/ (run `npm run build` first; `npm test` does).
 * @param {URL} entry the page's TypeScript file
 * @returns {Promise<string>}
 */
export async function bundlePage(entry = new URL('./page.ts', import.meta.url)) {
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(entry)],
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return /** @type {string} */ (result.outputFiles[0]?.text);
}

const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>dpop-fetch e2e</title></head>
<body><script type="module" src="/page.js"></script></body></html>`;

/**
 * Serves the page at / (with `anyPath`, at every path but /page.js: an authorization server can
 * then send the browser back to /callback) and the bundle at /page.js.
 * @param {string} script the page bundle
 * @param {{ anyPath?: boolean }} [options]
 * @returns {Promise<{ origin: string, close(): Promise<void> }>}
 */
export async function startSite(script, { anyPath = false } = {}) {
  const { origin, close } = await serve((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' }).end(script);
    // no-cache, not no-store: a page served no-store never enters the back-forward cache.
    else if (path === '/' || anyPath) res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }).end(html);
    else res.writeHead(404).end();
  });
  return { origin, close };
}
