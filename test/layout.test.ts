// The layout README's "How it works" describes (src/ as a one-way path): every file it names
// exists, every library file is named, and each import goes down that list, never up or round.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('<!-- layout:start -->'), readme.indexOf('<!-- layout:end -->'));
const listed = [...section.matchAll(/^- `(src\/[^`]+\.ts)`: \S/gm)].map((m) => m[1]!);

/** Every library source file under src/, the CLI (a Node program of its own) aside. */
function librarySources(dir = join(root, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'cli' ? [] : librarySources(path);
    return entry.name.endsWith('.ts') ? [relative(root, path)] : [];
  });
}

/** The relative modules a file imports (type-only imports included: they still couple files). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom '(\.[^']+)'/gms)].map((m) => relative(root, resolve(dirname(join(root, file)), m[1]!)));
}

describe('README "How it works"', () => {
  it('names files, one line each', () => {
    expect(listed.length).toBeGreaterThan(20);
    expect(new Set(listed).size).toBe(listed.length);
  });

  it('names every library file, and only files that exist', () => {
    expect([...listed].sort()).toEqual(librarySources().sort());
  });

  it('is the direction of every import: down the list, never up, so there is no cycle', () => {
    const upward: string[] = [];
    for (const [rank, file] of listed.entries()) {
      for (const target of importsOf(file)) {
        const to = listed.indexOf(target);
        if (to <= rank) upward.push(`${file} imports ${target}${to === -1 ? ' (not listed)' : ''}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('keeps each library file under about 250 lines', () => {
    const long = librarySources()
      .map((file) => [file, readFileSync(join(root, file), 'utf8').split('\n').length] as const)
      .filter(([, lines]) => lines > 260);
    expect(long).toEqual([]);
  });
});

describe('the CLI (src/cli/)', () => {
  it('has no import cycle', () => {
    const dir = join(root, 'src/cli');
    const files = readdirSync(dir).filter((name) => name.endsWith('.ts')).map((name) => `src/cli/${name}`);
    const graph = new Map(files.map((file) => [file, importsOf(file).filter((target) => target.startsWith('src/cli/'))]));
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (path.includes(file)) return void cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
