// @ts-check
/**
 * Reads Stryker's JSON report (the mutation-testing-report-schema) and test/MUTANTS.md: the
 * score per module, and which survivors are listed as equivalent. A row of MUTANTS.md names its
 * mutant by module, mutator, original code and replacement (the line is shown, not matched), so
 * an edit elsewhere in a file does not orphan it; a changed line does, and must be looked at again.
 */
import { table } from '../bench/report.mjs';

/** Modules the issue holds to 95% (19: the protocol core); every other module to 90%. */
export const strict = ['src/proof.ts', 'src/keys/thumbprint.ts', 'src/www-authenticate.ts', 'src/nonce.ts', 'src/token-cache.ts', 'src/fetch.ts'];
export const targetOf = (/** @type {string} */ file) => (strict.includes(file) ? 95 : 90);

/**
 * @typedef {{ file: string, line: number, mutator: string, original: string, replacement: string, status: string }} Mutant
 * @typedef {{ file: string, line: number, mutator: string, original: string, replacement: string, reason: string }} Entry
 * @typedef {{ file: string, mutants: number, killed: number, timedOut: number, survived: number, noCoverage: number, equivalent: number, loadOnly: number }} Counts
 */

const collapse = (/** @type {string} */ code) => {
  const one = code.replace(/\s+/g, ' ').trim();
  return one.length > 80 ? `${one.slice(0, 79)}…` : one;
};

/** What identifies a mutant across edits elsewhere in its file. @param {{ file: string, mutator: string, original: string, replacement: string }} m */
export const keyOf = (m) => `${m.file} ${m.mutator} ${collapse(m.original)} => ${collapse(m.replacement)}`;

/** The source text a location spans (lines and columns count from 1). */
function slice(/** @type {string} */ source, /** @type {any} */ location) {
  const lines = source.split('\n');
  const { start, end } = location;
  if (start.line === end.line) return lines[start.line - 1].slice(start.column - 1, end.column - 1);
  return [lines[start.line - 1].slice(start.column - 1), ...lines.slice(start.line, end.line - 1), lines[end.line - 1].slice(0, end.column - 1)].join('\n');
}

/** A markdown code span that survives a table: `|` escaped, enough backticks around it. */
function code(/** @type {string} */ text) {
  const escaped = collapse(text).replace(/\|/g, '\\|');
  const ticks = '`'.repeat(Math.max(0, ...[...escaped.matchAll(/`+/g)].map((m) => m[0].length)) + 1);
  return ticks.length > 1 ? `${ticks} ${escaped} ${ticks}` : `${ticks}${escaped}${ticks}`;
}

function uncode(/** @type {string} */ cell) {
  const m = /^(`+)( ?)([\s\S]*?)\2\1$/.exec(cell.trim());
  return (m ? m[3] : cell.trim()).replace(/\\\|/g, '|');
}

export const equivalents = {
  /** One row of test/MUTANTS.md's table. @param {Mutant} m @param {string} reason */
  row: (m, reason) => `| ${m.file}:${m.line} | ${m.mutator} | ${code(m.original)} | ${code(m.replacement)} | ${reason} |`,
};

/** The rows of every table in test/MUTANTS.md whose first cell is `src/…:line`. */
export function readEquivalents(/** @type {string} */ markdown) {
  /** @type {Entry[]} */
  const entries = [];
  for (const line of markdown.split('\n')) {
    if (!/^\|\s*src\//.test(line)) continue;
    const cells = line.trim().slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim());
    if (cells.length < 5) throw new Error(`test/MUTANTS.md: a row needs module:line | mutator | original | mutant | reason: ${line}`);
    const [where, mutator, original, replacement, ...reason] = cells;
    const [, file, at] = /^(\S+):(\d+)$/.exec(where) ?? [];
    if (!file) throw new Error(`test/MUTANTS.md: "${where}" is not module:line`);
    if (!reason.join('|').trim()) throw new Error(`test/MUTANTS.md: ${where} gives no reason`);
    entries.push({ file, line: Number(at), mutator, original: uncode(original), replacement: uncode(replacement), reason: reason.join('|') });
  }
  return entries;
}

/**
 * Counts per module, and the survivors (survived or not covered) that no row of MUTANTS.md lists.
 * @param {any} report Stryker's JSON report
 * @param {Entry[]} listed
 */
export function summarize(report, listed) {
  const pool = new Map();
  for (const entry of listed) pool.set(keyOf(entry), [...(pool.get(keyOf(entry)) ?? []), entry]);
  /** @type {Counts[]} */
  const modules = [];
  /** @type {Mutant[]} */
  const unlisted = [];
  for (const file of Object.keys(report.files).sort()) {
    const { source, mutants } = report.files[file];
    /** @type {Counts} */
    const counts = { file, mutants: 0, killed: 0, timedOut: 0, survived: 0, noCoverage: 0, equivalent: 0, loadOnly: 0 };
    for (const raw of [...mutants].sort((a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column)) {
      if (raw.status === 'Ignored' && raw.static) counts.loadOnly++;
      if (!['Killed', 'Timeout', 'Survived', 'NoCoverage'].includes(raw.status)) continue; // errors and ignored: not valid mutants
      counts.mutants++;
      if (raw.status === 'Killed') counts.killed++;
      if (raw.status === 'Timeout') counts.timedOut++;
      if (raw.status === 'Survived') counts.survived++;
      if (raw.status === 'NoCoverage') counts.noCoverage++;
      if (raw.status !== 'Survived' && raw.status !== 'NoCoverage') continue;
      /** @type {Mutant} */
      const mutant = { file, line: raw.location.start.line, mutator: raw.mutatorName, original: slice(source, raw.location), replacement: raw.replacement ?? '', status: raw.status };
      const match = pool.get(keyOf(mutant));
      if (match?.length) {
        match.shift();
        counts.equivalent++;
      } else unlisted.push(mutant);
    }
    if (counts.mutants + counts.loadOnly > 0) modules.push(counts);
  }
  const total = modules.reduce((sum, m) => ({ ...sum, mutants: sum.mutants + m.mutants, killed: sum.killed + m.killed, timedOut: sum.timedOut + m.timedOut, survived: sum.survived + m.survived, noCoverage: sum.noCoverage + m.noCoverage, equivalent: sum.equivalent + m.equivalent, loadOnly: sum.loadOnly + m.loadOnly }), { file: 'all modules measured', mutants: 0, killed: 0, timedOut: 0, survived: 0, noCoverage: 0, equivalent: 0, loadOnly: 0 });
  const stale = [...pool.values()].flat();
  return { modules, total, unlisted, stale };
}

/** Detected over valid mutants, as Stryker computes it: equivalent survivors count against it. */
export const scoreOf = (/** @type {Counts} */ c) => (c.mutants === 0 ? 100 : (100 * (c.killed + c.timedOut)) / c.mutants);
/** The same with the survivors test/MUTANTS.md lists as equivalent left out, as Stryker leaves out the mutants a `Stryker disable` comment marks. */
export const netScoreOf = (/** @type {Counts} */ c) => (c.mutants - c.equivalent === 0 ? 100 : (100 * (c.killed + c.timedOut)) / (c.mutants - c.equivalent));

/** @param {Counts[]} modules @param {Counts} total */
export function tableOf(modules, total) {
  const pct = (/** @type {number} */ n) => `${Math.floor(n * 10) / 10}%`;
  const bold = (/** @type {Counts} */ c, /** @type {string} */ text) => (c.file === total.file ? `**${text}**` : text);
  const row = (/** @type {Counts} */ c, /** @type {string} */ target) => [
    bold(c, c.file === total.file ? c.file : `\`${c.file.replace(/^src\//, '')}\``),
    c.mutants,
    c.killed + c.timedOut,
    c.equivalent,
    c.survived + c.noCoverage - c.equivalent,
    bold(c, pct(netScoreOf(c))),
    target,
    pct(scoreOf(c)),
    c.loadOnly,
  ];
  return table(
    ['module', 'mutants', 'killed', 'equivalent (test/MUTANTS.md)', 'survived, not explained', 'score', 'target', 'score counting equivalents as survivors', 'load-time only, not tested'],
    [...modules.map((m) => row(m, `${targetOf(m.file)}%`)), row(total, '90%')],
  );
}
/**
 * Folds the report of a run over some modules into the kept results of all (the incremental
 * file): those modules' mutants replace theirs, and the tests they name are renumbered into the
 * kept file's ids (by file and name; a test the kept file lacks is added).
 * Only the modules the run mutated are taken: Stryker's report of such a run also carries the
 * other modules it read from the incremental file, without their load-time only mutants.
 * @param {any} kept @param {any} run @param {string[]} mutated the run's `--mutate` files
 */
export function merge(kept, run, mutated) {
  const merged = { ...run, files: { ...(kept?.files ?? {}) }, testFiles: structuredClone(kept?.testFiles ?? {}) };
  let next = 1 + Math.max(-1, ...Object.values(merged.testFiles).flatMap((/** @type {any} */ f) => f.tests.map((/** @type {any} */ t) => Number(t.id))));
  /** @type {Map<string, string>} */
  const ids = new Map();
  for (const [path, file] of Object.entries(run.testFiles ?? {})) {
    const target = (merged.testFiles[path] ??= { tests: [] });
    target.source = /** @type {any} */ (file).source;
    for (const test of /** @type {any} */ (file).tests) {
      let known = target.tests.find((/** @type {any} */ t) => t.name === test.name);
      if (!known) target.tests.push((known = { ...test, id: String(next++) }));
      else known.location = test.location;
      ids.set(test.id, known.id);
    }
  }
  const renumber = (/** @type {string[] | undefined} */ list) => list?.map((id) => ids.get(id) ?? id);
  for (const [path, file] of Object.entries(run.files)) {
    if (!mutated.includes(path)) continue;
    merged.files[path] = { ...file, mutants: /** @type {any} */ (file).mutants.map((/** @type {any} */ m) => ({ ...m, coveredBy: renumber(m.coveredBy), killedBy: renumber(m.killedBy) })) };
  }
  return merged;
}
