// @ts-check
// The single-page app's own origin: a tiny static server on 127.0.0.1 (port 0) serving an
// HTML page and the esbuild bundle of e2e/browser/page.ts. Its origin differs from the
// peers' (another port), so every call the page makes to them is a real CORS request.
import { serve } from '../loopback.mjs';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Bundles the page as an app would: 'dpop-fetch' resolves through package.json exports to dist/. */
export async function bundlePage() {
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('./page.ts', import.meta.url))],
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return result.outputFiles[0].text;
}

const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>dpop-fetch e2e</title></head>
<body><script type="module" src="/page.js"></script></body></html>`;

/**
 * @param {string} script the page bundle
 * @returns {Promise<{ origin: string, close(): Promise<void> }>}
 */
export async function startSite(script) {
  const { origin, close } = await serve((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
    else if (path === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' }).end(script);
    else res.writeHead(404).end();
  });
  return { origin, close };
}
