// The Node 20 end-to-end suite: the built package (dist/, via the package's own name) against
// the real peers. Run: npx vitest run --config e2e/node/vitest.config.mjs
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['e2e/node/**/*.test.mjs'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
