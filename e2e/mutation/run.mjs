// @ts-check
/**
 * `npm run mutation`: Stryker over the library's modules (e2e/mutation/scope.mjs), on the Node
 * unit and peer suites, then the score per module written into README.md and every surviving
 * mutant checked against test/MUTANTS.md (the list of equivalent mutants, each with its reason).
 *
 * Incremental: results are kept in test/stryker-incremental.json (committed), so a later run
 * re-tests only the mutants whose code or covering tests changed. Flags:
 *   --force           re-test every mutant (a full run), still writing the incremental file
 *   --concurrency N   test runner processes (default 1: the machine is shared; 2 at most)
 *   --mutate GLOB     only these files (repeatable); merges their results into the kept file and
 *                     leaves README.md alone (`--report-only` then rewrites it from the kept file)
 *   --report-only     no Stryker run: read the last report again
 *   --no-readme       leave README.md alone
 * The run is niced (priority 19) so that it never starves other work's timing-sensitive tests.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { globSync } from './glob.mjs';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { noReadme, writeReadmeSection } from '../bench/report.mjs';
import { scope } from './scope.mjs';
import { equivalents, keyOf, merge, readEquivalents, summarize, tableOf } from './report.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
process.chdir(root);

const { values } = parseArgs({
  options: {
    force: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '1' },
    mutate: { type: 'string', multiple: true }, // files, as paths from the repository root
    tests: { type: 'string', multiple: true },
    'report-only': { type: 'boolean', default: false },
    'no-readme': { type: 'boolean', default: false },
  },
});
const subset = values.mutate !== undefined;
const kept = 'test/stryker-incremental.json';
// Stryker writes its incremental file when stopped part-way, with only the mutants tested so far:
// every run works on a copy, and the kept file changes only when a run completes.
const out = subset ? '.tmp/mutation-subset' : '.tmp/mutation-full';
const reportFile = `${out}/mutation.json`;
const runFile = 'test-results/mutation/run.json';
mkdirSync(out, { recursive: true });
mkdirSync('test-results/mutation', { recursive: true });
// A run starts from the kept results, so it re-tests only what changed.
if (!values['report-only']) {
  if (existsSync(kept)) copyFileSync(kept, `${out}/incremental.json`);
  else rmSync(`${out}/incremental.json`, { force: true });
}

if (!values['report-only']) {
  os.setPriority(19); // inherited by every test runner process Stryker starts
  // Property tests replay one seed here, as in CI, so a mutant's fate never depends on luck.
  process.env.FC_SEED ??= '20261125';
  const started = Date.now();
  const Stryker = await loadStryker();
  const stryker = new Stryker({
    mutate: subset ? [...(values.mutate ?? []), ...scope.filter((glob) => glob.startsWith('!'))] : scope,
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    // Child processes, as `npm test` runs vitest: a test may set process.env.TZ, which a worker
    // thread cannot apply.
    vitest: { configFile: 'e2e/mutation/vitest.config.ts', pool: 'forks' },
    coverageAnalysis: 'perTest',
    // Code that runs outside every test (module top level, beforeAll hooks) makes Stryker re-run
    // every test for each of its mutants, with the module reloaded: 40% of the mutants and over
    // 90% of the time of a whole run. And here (vitest 4.1, Stryker 10.1.1) such a reload does
    // not reach the code: `/[ \t,]*/y` made `/[^ \t,]*/y` "survived" every parser test. So a
    // mutant that tests also run is tested by those tests, active from the test's start, and one
    // that only loading runs (a module-level regex or table) is counted apart as "load-time
    // only": never tested, never killed.
    ignoreStatic: true,
    ...(values.tests ? { testFiles: values.tests } : {}),
    disableTypeChecks: 'src/**/*.ts',
    incremental: true,
    incrementalFile: `${out}/incremental.json`,
    force: values.force,
    concurrency: Number(values.concurrency),
    timeoutMS: 10_000, // a shared, busy machine: a slow test is not an endless loop
    reporters: ['clear-text', 'progress-append-only', 'json', 'html'],
    jsonReporter: { fileName: reportFile },
    htmlReporter: { fileName: `${out}/mutation.html` },
    clearTextReporter: { logTests: false, reportMutants: false, reportScoreTable: true },
    tempDirName: '.tmp/stryker',
    ignorePatterns: ['dist', 'test-results', 'playwright-report', '.wrangler', '.tmp'],
    // The tsconfig has no `extends` or `references` for Stryker to rewrite in its sandbox, and
    // TypeScript 7 has no JavaScript API for it to parse one with: point it at no file.
    tsconfigFile: 'e2e/mutation/no-tsconfig-to-rewrite.json',
    thresholds: { high: 95, low: 90, break: null },
  });
  const results = await stryker.runMutationTest();
  const seconds = Math.round((Date.now() - started) / 1000);
  // `npm test` may have removed test-results/ meanwhile: the results must still reach the kept file.
  mkdirSync('test-results/mutation', { recursive: true });
  writeFileSync(runFile, JSON.stringify({ seconds, force: values.force, modules: values.mutate ?? 'all', mutants: results.length, concurrency: Number(values.concurrency), load: os.loadavg()[0] }));
  if (!subset) copyFileSync(`${out}/incremental.json`, kept);
  else {
    const merged = merge(existsSync(kept) ? JSON.parse(readFileSync(kept, 'utf8')) : undefined, JSON.parse(readFileSync(reportFile, 'utf8')), values.mutate ?? []);
    writeFileSync(kept, JSON.stringify(merged));
  }
}

if (!existsSync(kept)) throw new Error(`${kept} does not exist: run \`npm run mutation\` first.`);
// The kept results of every module, whichever run last tested each.
const report = JSON.parse(readFileSync(kept, 'utf8'));
const run = existsSync(runFile) ? JSON.parse(readFileSync(runFile, 'utf8')) : undefined;
const listed = readEquivalents(readFileSync('test/MUTANTS.md', 'utf8'));
const { modules, total, unlisted, stale } = summarize(report, listed);

process.stdout.write(`\n${tableOf(modules, total)}\n\n`);
if (unlisted.length > 0) {
  process.stdout.write(`${unlisted.length} surviving mutant(s) neither killed nor listed in test/MUTANTS.md. Kill each with a test, or add its row with the reason it is equivalent:\n\n`);
  for (const mutant of unlisted) process.stdout.write(`${equivalents.row(mutant, '…why it is equivalent…')}\n`);
  process.stdout.write('\n');
}
if (stale.length > 0) {
  process.stdout.write(`${stale.length} row(s) of test/MUTANTS.md match no surviving mutant any more (killed, or the code changed): remove or update them:\n\n`);
  for (const entry of stale) process.stdout.write(`  ${entry.file}:${entry.line} ${entry.mutator} ${keyOf(entry)}\n`);
  process.stdout.write('\n');
}

if (!noReadme && !values['no-readme'] && !subset) {
  const when = run
    ? ` The last run (${run.modules === 'all' ? 'every module' : run.modules.join(', ')}) took ${Math.max(1, Math.round(run.seconds / 60))} min on this machine (${os.cpus().length} cores, concurrency ${run.concurrency}${run.force ? ', every mutant re-tested' : ', incremental: only the mutants whose code or tests changed were re-tested'}).`
    : '';
  const inScope = globSync(scope).filter((file) => /\.ts$/.test(file));
  const unmeasured = inScope.filter((file) => !(file in report.files) && /\b(if|return|=>|function)\b/.test(readFileSync(file, 'utf8'))).sort();
  writeReadmeSection(
    'mutation',
    [
      `Generated by \`npm run mutation\` from the kept results (\`test/stryker-incremental.json\`: Stryker ${report.framework?.version ?? ''}, \`perTest\` coverage, incremental) over every library module but the command line and the adapters proven only in a browser, Deno or workerd (test/MUTANTS.md says which and why).${when}`,
      '',
      'A mutant is one small change to the code (a `<` into `<=`, a dropped `await`, a deleted retry guard); it is killed when a test of the Node suite fails because of it. *Equivalent* survivors change nothing a caller can observe (mostly caches that only change speed); each is listed in `test/MUTANTS.md` with the reason, and the score leaves them out, as a Stryker `disable` comment would; the next column counts them as survivors. *Load-time only* mutants sit in code that only loading a module runs (a module-level regex or table): Stryker cannot test them here (test/MUTANTS.md says why), so they are counted apart, neither killed nor survived.',
      '',
      tableOf(modules, total),
      ...(unmeasured.length ? ['', `Not measured yet: ${unmeasured.map((file) => `\`${file.replace(/^src\//, '')}\``).join(', ')}.`] : []),
    ].join('\n'),
  );
  process.stderr.write('README.md mutation section rewritten.\n');
}
process.exitCode = unlisted.length > 0 ? 1 : 0;

/**
 * Stryker 10 refuses Node < 22 when its command-line module loads (the only place it checks);
 * this project's floor and machines are Node 20, where its code runs as it is. Only that load
 * sees Node 22; every later check, ours or the tests', sees the real version.
 */
async function loadStryker() {
  const real = /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(process, 'version'));
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) Object.defineProperty(process, 'version', { ...real, value: 'v22.0.0' });
  try {
    const { Stryker } = await import('@stryker-mutator/core');
    await mendMethodExpression();
    return Stryker;
  } finally {
    Object.defineProperty(process, 'version', real);
  }
}

/**
 * Stryker 10.1.1's MethodExpression mutator crashes the whole run on a call like
 * `match?.[1]!.toLowerCase()` (fetch.ts, discovery/document.ts): it rebuilds the optional chain
 * around the TypeScript non-null assertion, which Babel refuses. The `!` is erased at run time,
 * so the mutator is handed the chain without it: the same mutants, on the code that runs.
 */
async function mendMethodExpression() {
  const { createRequire } = await import('node:module');
  const { pathToFileURL } = await import('node:url');
  const entry = createRequire(import.meta.url).resolve('@stryker-mutator/instrumenter');
  const { methodExpressionMutator: mutator } = await import(pathToFileURL(entry.replace(/index\.js$/, 'mutators/method-expression-mutator.js')).href);
  const mutate = mutator.mutate;
  mutator.mutate = function* (/** @type {any} */ path) {
    /** @type {Array<[any, string, any]>} */
    const erased = [];
    // Walk down the chain's non-optional links, as Babel's check does, taking each `!` out.
    for (let link = path.node?.callee; link && /^Optional(Member|Call)Expression$/.test(link.type) && !link.optional; ) {
      const key = link.type === 'OptionalMemberExpression' ? 'object' : 'callee';
      if (link[key].type === 'TSNonNullExpression') {
        erased.push([link, key, link[key]]);
        link[key] = link[key].expression;
      }
      link = link[key];
    }
    try {
      yield* mutate.call(this, path);
    } finally {
      for (const [link, key, nonNull] of erased.reverse()) link[key] = nonNull;
    }
  };
}
