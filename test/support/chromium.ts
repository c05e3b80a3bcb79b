// Tabs of one origin in Chromium, driven from a vitest test: a page script bundled by esbuild
// from src/ (as an app bundles the package), served on 127.0.0.1 (a secure context, where
// IndexedDB, Web Locks and BroadcastChannel exist), opened in as many pages of one browser
// context as a test wants. Debian's /usr/bin/chromium or $CHROMIUM_PATH, as the browser suite
// uses (e2e/browser/playwright.config.ts); Playwright never downloads a browser here.
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { serve } from '../../e2e/loopback.mjs';
import { root } from './child.ts';

export interface Tabs {
  origin: string;
  context: BrowserContext;
  /** A new tab on the page, its script loaded; `init` runs before it (e.g. to take an API away). */
  open(init?: () => void): Promise<Page>;
  close(): Promise<void>;
}

/** Launches Chromium and serves `entry` (a TypeScript module that sets `window.ready = true` when loaded). */
export async function startTabs(entry: URL): Promise<Tabs> {
  const built = await esbuild.build({ entryPoints: [fileURLToPath(entry)], absWorkingDir: root, bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'warning' });
  const script = built.outputFiles[0]!.text;
  const site = await serve((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' }).end(script);
    else res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' }).end('<!doctype html><script type="module" src="/page.js"></script>');
  });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext();
    const opened = browser;
    return {
      origin: site.origin,
      context,
      async open(init) {
        const page = await context.newPage();
        if (init) await page.addInitScript(init);
        await page.goto(`${site.origin}/`);
        await page.waitForFunction(() => (window as { ready?: boolean }).ready === true);
        return page;
      },
      async close() {
        await opened.close();
        await site.close();
      },
    };
  } catch (err) {
    await browser?.close();
    await site.close();
    throw err;
  }
}
