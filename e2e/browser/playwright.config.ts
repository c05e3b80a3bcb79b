// The Chromium suite. Run: npx playwright test -c e2e/browser
// Browser: $CHROMIUM_PATH, else Debian's /usr/bin/chromium (ensure-chromium.mjs installs it with
// apt-get when missing). Playwright's own browser download is never used: it cannot work here.
import { fileURLToPath } from 'node:url';
import { defineConfig } from '@playwright/test';

const results = fileURLToPath(new URL('../../test-results/', import.meta.url));
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
if (!process.env.TEST_WORKER_INDEX) console.log(`browser suite: using Chromium at ${executablePath}`);

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: `${results}playwright`,
  timeout: 90_000,
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: `${results}playwright.json` }]],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath,
      // Playwright turns the back-forward cache off by default; tabs.spec.ts needs a page that
      // comes back from it, as a tab the user returns to does.
      ignoreDefaultArgs: ['--disable-back-forward-cache'],
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
