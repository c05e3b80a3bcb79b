// The README's quick starts are the files the suites run: each snippet file's text must sit
// verbatim in README.md between <!-- snippet:NAME --> and <!-- /snippet:NAME -->.
// (Fix a failure with `node e2e/readme-snippets.mjs`.)
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const readme = await readFile(new URL('README.md', root), 'utf8');

/** The README text between a snippet's markers, or undefined when the markers are missing. */
function section(name) {
  const open = `<!-- snippet:${name} -->\n`;
  const start = readme.indexOf(open);
  const end = readme.indexOf(`<!-- /snippet:${name} -->`);
  return start < 0 || end < start ? undefined : readme.slice(start + open.length, end);
}

describe('README quick starts and ways to configure', () => {
  for (const [name, file, lang] of [
    ['node', 'e2e/snippets/node.mjs', 'js'],
    ['browser', 'e2e/snippets/browser.ts', 'ts'],
    ['deno', 'e2e/snippets/deno.ts', 'ts'],
    ['worker', 'e2e/snippets/worker.ts', 'ts'],
    ['configure-endpoints', 'e2e/snippets/configure-endpoints.mjs', 'js'],
    ['configure-issuer', 'e2e/snippets/configure-issuer.mjs', 'js'],
    ['configure-api-url', 'e2e/snippets/configure-api-url.mjs', 'js'],
    ['fapi', 'e2e/snippets/fapi.ts', 'ts'],
    ['fleet-node', 'e2e/snippets/fleet-node.mjs', 'js'],
    ['fleet-deno', 'e2e/snippets/fleet-deno.ts', 'ts'],
    ['fleet-worker', 'e2e/snippets/fleet-worker.ts', 'ts'],
  ]) {
    it(`${name}: README shows ${file} verbatim`, async () => {
      const code = await readFile(new URL(file, root), 'utf8');
      expect(section(name)).toBe(`\`\`\`${lang}\n${code}\`\`\`\n`);
    });
  }

  it('a README without the markers is caught, not passed', () => {
    expect(section('no-such-runtime')).toBeUndefined();
  });
});
