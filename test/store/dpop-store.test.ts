// The DPoPStore interface (src/store/dpop-store.ts): the README shows it as declared, and the
// checks every adapter shares. The contract itself runs per engine (contract.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertStoreKey, assertStoreValue, live, lockToken, ttlMilliseconds } from '../../src/store/dpop-store.ts';
import { root } from '../support/child.ts';

/** The member lines of `interface DPoPStore { … }` in a text, without comments. */
function members(text: string): string[] {
  const body = text.slice(text.indexOf('interface DPoPStore {'));
  return body
    .slice(0, body.indexOf('\n}'))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^(get|set|delete|lock\?)\(/.test(line));
}

describe('DPoPStore', () => {
  it("the README's API section shows the interface exactly as declared", () => {
    const declared = members(readFileSync(join(root, 'src/store/dpop-store.ts'), 'utf8'));
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(declared).toHaveLength(4);
    expect(members(readme.slice(readme.indexOf('### Shared stores')))).toEqual(declared);
  });

  it('TTLs become whole milliseconds, at least 1, rounded up (never shorter than asked)', () => {
    expect(ttlMilliseconds(60)).toBe(60_000);
    expect(ttlMilliseconds(0.5)).toBe(500);
    expect(ttlMilliseconds(0.0001)).toBe(1);
    expect(ttlMilliseconds(1.0005)).toBe(1001);
  });

  it('keys and values: strings; a key never empty, a value may be', () => {
    expect(() => assertStoreKey('k')).not.toThrow();
    expect(() => assertStoreValue('')).not.toThrow();
    expect(() => assertStoreKey('')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('an entry is live only with a string value and a future numeric expiry', () => {
    const now = 1_000;
    expect(live({ value: 'v', expires: 1_001 }, now)).toEqual({ value: 'v', expires: 1_001 });
    for (const entry of [{ value: 'v', expires: 1_000 }, { value: 1, expires: 2_000 }, { value: 'v', expires: '2000' }, { value: 'v' }, 'v', null, undefined]) {
      expect(live(entry, now)).toBeUndefined();
    }
  });

  it('lock tokens are fresh random UUIDs', () => {
    const tokens = new Set(Array.from({ length: 1000 }, lockToken));
    expect(tokens.size).toBe(1000);
    for (const token of tokens) expect(token).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
