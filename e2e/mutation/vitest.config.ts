// The Node suite as `npm run mutation` (Stryker) and `npm run coverage` run it: the root config,
// less the test files that cannot kill a mutant in scope (e2e/mutation/scope.mjs), with v8
// coverage over the same scope.
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../../vite.config.ts';
import { excludedTests, scope } from './scope.mjs';

export default mergeConfig(
  base,
  defineConfig({
    root: fileURLToPath(new URL('../..', import.meta.url)),
    test: {
      exclude: excludedTests,
      coverage: {
        provider: 'v8',
        include: scope.filter((glob) => !glob.startsWith('!')),
        exclude: scope.filter((glob) => glob.startsWith('!')).map((glob) => glob.slice(1)),
        reporter: ['text', 'json-summary', 'html'],
        reportsDirectory: 'test-results/coverage',
      },
    },
  }),
);
