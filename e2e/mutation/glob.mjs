// @ts-check
// The files scope.mjs names (Node 20 has no fs.globSync): `dir/**/*.ext` includes, and
// `!dir/**` or `!file` excludes, which is all scope.mjs uses.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** @param {string[]} patterns */
export function globSync(patterns) {
  const walk = (/** @type {string} */ dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  const files = new Set();
  for (const pattern of patterns.filter((p) => !p.startsWith('!'))) {
    const [, dir, ext] = /^(.*?)\/\*\*\/\*(\..+)$/.exec(pattern) ?? [];
    if (!dir || !ext) throw new Error(`glob.mjs reads only dir/**/*.ext, not ${pattern}`);
    for (const file of walk(dir)) if (file.endsWith(ext)) files.add(file);
  }
  for (const pattern of patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1))) {
    const prefix = pattern.endsWith('/**') ? pattern.slice(0, -2) : undefined;
    for (const file of [...files]) if (prefix ? file.startsWith(prefix) : file === pattern) files.delete(file);
  }
  return [...files];
}
