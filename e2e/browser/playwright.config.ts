// The Chromium suite. Run: npx playwright test -c e2e/browser
// Browser: $CHROMIUM_PATH, else Debian's /usr/bin/chromium, else Playwright's own Chromium
// (installed by `npx playwright install chromium`, which .ci/run does where apt is not an option).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from '@playwright/test';

const results = fileURLToPath(new URL('../../test-results/', import.meta.url));
const executablePath = process.env.CHROMIUM_PATH || (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);
if (!process.env.TEST_WORKER_INDEX) {
  console.log(
    executablePath
      ? `browser suite: using Chromium at ${executablePath}`
      : "browser suite: no /usr/bin/chromium (and no CHROMIUM_PATH): using Playwright's own Chromium, from `npx playwright install chromium`",
  );
}

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
      ...(executablePath ? { executablePath } : {}),
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
