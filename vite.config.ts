import { defineConfig } from 'vitest/config';

// Unit and integration tests in Node. Browser (Playwright), Deno and Workers suites live in
// e2e/ and have their own runners; `include` is explicit so vitest never picks them up.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/fast-check.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
