// @ts-check
/**
 * Shared by `npm run bench` and `npm run size`: the machine line, number formatting, and the
 * rewrite of one generated README section (only the lines between its two markers).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { createRequire } from 'node:module';

const root = new URL('../../', import.meta.url);
const require = createRequire(import.meta.url);

/** `name version` of an installed package, read from its package.json. @param {string} name */
export function versionOf(name) {
  return `${name} ${require(`${name}/package.json`).version}`;
}

/** One line that says where the numbers come from. */
export function machine() {
  const cpus = os.cpus();
  const gb = Math.round(os.totalmem() / 2 ** 30);
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length} cores, ${gb} GB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
}

/** Load average now, as the 1-minute figure (the machine is shared: say how busy it was). */
export function load() {
  return os.loadavg()[0].toFixed(2);
}

/** @param {number} ratio */
export const x = (ratio) => `${ratio.toFixed(2)}×`;
/** @param {number} us */
export const us = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(us < 10 ? 1 : 0)} µs`);
/** @param {number} bytes */
export const kb = (bytes) => `${(bytes / 1024).toFixed(2)} KB`;

/**
 * A markdown table.
 * @param {string[]} head
 * @param {Array<Array<string | number>>} rows
 */
export function table(head, rows) {
  const line = (/** @type {Array<string | number>} */ cells) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * Replaces what lies between `<!-- name:start -->` and `<!-- name:end -->` in README.md. The file
 * is read right before it is written, with nothing awaited in between, because other people
 * edit other parts of it.
 * @param {string} name
 * @param {string} markdown
 */
export function writeReadmeSection(name, markdown) {
  const path = new URL('README.md', root);
  const text = readFileSync(path, 'utf8');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no "${start}" … "${end}" section; add the two markers where the ${name} figures belong.`);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const body = markdown.trim().split('\n').join(eol);
  writeFileSync(path, `${text.slice(0, a + start.length)}${eol}${body}${eol}${text.slice(b)}`);
}

/** True when the command line asks not to touch README.md. */
export const noReadme = process.argv.includes('--no-readme');
