// The package's shape for both registries: npm's `exports` (built JavaScript in dist/) and
// JSR's (the same entry points, from src/ as TypeScript), and a clean `deno publish --dry-run`.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, run } from './support/child.ts';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const jsr = JSON.parse(readFileSync(join(root, 'jsr.json'), 'utf8'));

describe('jsr.json', () => {
  it('exports every npm entry point, from src/ as TypeScript, at the same version', () => {
    const npmEntries = Object.fromEntries(
      Object.entries(pkg.exports as Record<string, { default?: string }>)
        .filter(([, target]) => typeof target === 'object' && target.default)
        .map(([entry, target]) => [entry, target.default!.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts')]),
    );
    expect(jsr.exports).toEqual(npmEntries);
    expect(jsr.version).toBe(pkg.version);
    expect(jsr.license).toBe(pkg.license);
  });

  it('publishes cleanly: no slow types, no missing explicit return types, no warnings', { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await run('npx', ['deno', 'publish', '--dry-run', '--allow-dirty']);
    const output = `${stdout}\n${stderr}`;
    expect(output, output).toContain('Dry run complete');
    expect(code, output).toBe(0);
    // deno prints each problem as `error[kind]:` or `warning[kind]:` (slow types among them).
    expect(output).not.toMatch(/^\s*(?:error|warning)\b/im);
    expect(output).not.toMatch(/slow types? (?:found|error)|Found \d+ problem/i);
    // Only the library goes to JSR: never the Node-only CLI, tests or build output.
    const files = [...output.matchAll(/file:\/\/\S+?\/(src\/\S+|README\.md|jsr\.json)\s/g)].map((m) => m[1]);
    expect(files).toContain('src/index.ts');
    expect(files).toContain('src/store/indexeddb.ts');
    expect(output).not.toMatch(/src\/cli\/|\/test\/|\/dist\//);
  });
});
