// Runs every test suite that exists and prints one closing line, `N passed, N failed`,
// summed over all runners, since CI reads only that line. A runner that cannot start, or
// that runs no test, counts as a failure: no silent skips.
import { spawn } from 'node:child_process';
import { readFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'test-results');
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

/** Each suite: a command and a parser of the report it writes. */
const suites = [
  {
    name: 'vitest (Node)',
    command: ['npx', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${join(out, 'vitest.json')}`],
    report: join(out, 'vitest.json'),
    parse: (r) => ({ passed: r.numPassedTests, failed: r.numFailedTests + (r.numRuntimeErrors ?? 0) }),
  },
];

function run([command, ...args]) {
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
  let counts;
  try {
    counts = suite.parse(JSON.parse(await readFile(suite.report, 'utf8')));
  } catch {
    counts = { passed: 0, failed: 0 };
  }
  // A runner that exits non-zero, or runs nothing, must fail the run even if it counted nothing.
  if ((code !== 0 || counts.passed + counts.failed === 0) && counts.failed === 0) counts.failed = 1;
  passed += counts.passed;
  failed += counts.failed;
  lines.push(`${suite.name}: ${counts.passed} passed, ${counts.failed} failed (exit ${code})`);
}
console.log('\n=== summary ===');
for (const line of lines) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
