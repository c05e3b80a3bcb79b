// @ts-check
// The single-page app of the grants suite on its own origin (127.0.0.1, port 0): every path
// serves the same HTML, so the authorization server can send the browser back to /callback,
// and /app.js is the esbuild bundle of ./page.ts, which imports 'dpop-fetch' as an app does
// (package exports → dist/, so run `npm run build` first; `npm test` does).
import { serve } from '../../loopback.mjs';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** @returns {Promise<string>} */
async function bundle() {
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('./page.ts', import.meta.url))],
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'warning',
  });
  return /** @type {string} */ (result.outputFiles[0]?.text);
}

const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>dpop-fetch grants e2e</title></head>
<body><script type="module" src="/app.js"></script></body></html>`;

/** @returns {Promise<{ origin: string, close(): Promise<void> }>} */
export async function startGrantsSite() {
  const script = await bundle();
  const { origin, close } = await serve((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const js = path === '/app.js';
    res.writeHead(200, { 'content-type': js ? 'text/javascript; charset=utf-8' : 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(js ? script : html);
  });
  return { origin, close };
}
