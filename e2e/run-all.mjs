// Runs every test suite, one after another (two cores: Chromium and workerd never overlap),
// and prints one closing line, `N passed, N failed`, summed over all runners, since CI reads
// only that line. A runner that cannot start, exits non-zero, writes no report, runs no test,
// or skips a test counts as a failure: no silent skips.
import { spawn } from 'node:child_process';
import { readFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'test-results');
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

/** @typedef {{ passed: number, failed: number }} Counts */

/** vitest's JSON reporter; pending (skipped) and todo tests count as failures. */
const vitestCounts = (/** @type {any} */ r) => ({
  passed: r.numPassedTests,
  failed: r.numFailedTests + (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0) + (r.numRuntimeErrors ?? 0),
});

/** Playwright's JSON reporter; skipped tests and top-level errors (e.g. no browser) count as failures. */
const playwrightCounts = (/** @type {any} */ r) => ({
  passed: r.stats.expected + r.stats.flaky,
  failed: r.stats.unexpected + r.stats.skipped + (r.errors?.length ?? 0),
});

/** A JUnit XML report (what `deno test --junit-path` writes): each <testcase> passes unless it holds a failure, error or skip. */
function junitCounts(/** @type {string} */ xml) {
  const cases = xml
    .split('<testcase ')
    .slice(1)
    .map((c) => (c.includes('</testcase>') ? c.slice(0, c.indexOf('</testcase>')) : c));
  const failed = cases.filter((c) => /<(failure|error|skipped)\b/.test(c)).length;
  return { passed: cases.length - failed, failed };
}

const vitestJson = (/** @type {string} */ name) => ['--reporter=default', '--reporter=json', `--outputFile.json=${join(out, name)}`];

/** Each suite: a command, the report it writes, and a parser of that report. */
const suites = [
  {
    name: 'vitest (Node unit)',
    command: ['npx', 'vitest', 'run', ...vitestJson('vitest.json')],
    report: join(out, 'vitest.json'),
    parse: (/** @type {string} */ text) => vitestCounts(JSON.parse(text)),
  },
  {
    name: 'e2e Node 20 (dist/)',
    command: ['npx', 'vitest', 'run', '--config', 'e2e/node/vitest.config.mjs', ...vitestJson('e2e-node.json')],
    report: join(out, 'e2e-node.json'),
    parse: (/** @type {string} */ text) => vitestCounts(JSON.parse(text)),
  },
  {
    name: 'e2e Chromium (Playwright)',
    // ensure-chromium finds or installs Debian's chromium first and says which; without one the suite fails.
    command: ['sh', '-c', 'node e2e/browser/ensure-chromium.mjs && exec npx playwright test -c e2e/browser'],
    report: join(out, 'playwright.json'), // set in e2e/browser/playwright.config.ts
    parse: (/** @type {string} */ text) => playwrightCounts(JSON.parse(text)),
  },
  {
    name: 'e2e Deno (src/)',
    command: ['node', 'e2e/deno/run.mjs', 'src'],
    report: join(out, 'deno-src.xml'),
    parse: junitCounts,
  },
  {
    name: 'e2e Deno (dist/)',
    command: ['node', 'e2e/deno/run.mjs', 'dist'],
    report: join(out, 'deno-dist.xml'),
    parse: junitCounts,
  },
  {
    name: 'e2e Cloudflare Workers (workerd)',
    command: ['npx', 'vitest', 'run', '--config', 'e2e/workers/vitest.config.ts', ...vitestJson('e2e-workers.json')],
    report: join(out, 'e2e-workers.json'),
    parse: (/** @type {string} */ text) => vitestCounts(JSON.parse(text)),
  },
];

function run(/** @type {string[]} */ [command, ...args]) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, FORCE_COLOR: '0' } });
    child.on('error', () => resolve(127));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

let passed = 0;
let failed = 0;
const lines = [];
for (const suite of suites) {
  console.log(`\n=== ${suite.name} ===`);
  const code = await run(suite.command);
  /** @type {Counts} */
  let counts;
  let note = '';
  try {
    counts = suite.parse(await readFile(suite.report, 'utf8'));
  } catch (err) {
    counts = { passed: 0, failed: 0 };
    note = `, no readable report: ${/** @type {Error} */ (err).message}`;
  }
  // A runner that exits non-zero, or runs nothing, must fail the run even if it counted nothing.
  if ((code !== 0 || counts.passed + counts.failed === 0) && counts.failed === 0) counts.failed = 1;
  passed += counts.passed;
  failed += counts.failed;
  lines.push(`${suite.name}: ${counts.passed} passed, ${counts.failed} failed (exit ${code}${note})`);
}
console.log('\n=== summary ===');
for (const line of lines) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
