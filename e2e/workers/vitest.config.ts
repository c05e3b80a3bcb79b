// The Cloudflare Workers suite: the README's Worker (e2e/snippets/worker.ts) runs in workerd
// through @cloudflare/vitest-pool-workers, importing the built package (dist/), and calls the
// real peers that global-setup.mjs starts in Node.
// Run: npx vitest run --config e2e/workers/vitest.config.ts
import { fileURLToPath } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  root,
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: './e2e/snippets/worker.ts',
      miniflare: {
        // The newest date this workerd accepts; newer ones are refused.
        compatibilityDate: '2026-05-03',
        bindings: {
          TOKEN_ENDPOINT: inject('tokenEndpoint'),
          CLIENT_ID: inject('clientId'),
          CLIENT_SECRET: inject('clientSecret'),
          API_ORIGIN: inject('apiOrigin'),
          API_PATH: inject('apiPath'),
        },
      },
    })),
  ],
  resolve: {
    alias: {
      'dpop-fetch': `${root}dist/index.js`,
    },
  },
  test: {
    include: ['e2e/workers/**/*.test.ts'],
    globalSetup: ['e2e/workers/global-setup.mjs'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
