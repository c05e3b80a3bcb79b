// @ts-check
/**
 * `node e2e/mutation/combine.mjs OTHER.json src/a.ts [src/b.ts ...]`: takes the named modules'
 * results from another kept results file (e.g. a branch's test/stryker-incremental.json, saved
 * before a rebase) into this checkout's test/stryker-incremental.json. Modules measured on two
 * branches at once then land without measuring them again: a git conflict in the kept file is
 * resolved by taking main's, then combining the branch's own modules into it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { merge } from './report.mjs';

process.chdir(fileURLToPath(new URL('../../', import.meta.url)));
const [other, ...modules] = process.argv.slice(2);
if (!other || modules.length === 0) throw new Error('usage: node e2e/mutation/combine.mjs OTHER.json src/a.ts [src/b.ts ...]');
const kept = 'test/stryker-incremental.json';
const theirs = JSON.parse(readFileSync(other, 'utf8'));
const missing = modules.filter((path) => !(path in theirs.files));
if (missing.length > 0) throw new Error(`${other} has no results for ${missing.join(', ')}`);
writeFileSync(kept, JSON.stringify(merge(JSON.parse(readFileSync(kept, 'utf8')), theirs, modules)));
process.stdout.write(`${kept}: ${modules.join(', ')} taken from ${other}\n`);
