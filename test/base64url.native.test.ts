// base64url's native branch (src/base64url.ts): Uint8Array.prototype.toBase64 and
// Uint8Array.fromBase64 (ES2026), which Deno, Chromium 140+ and Node 22+ have and Node 20 has not.
// In real Deno: the module takes the native path there and agrees with Node's Buffer. In Node 20:
// the module loaded again over an implementation that checks its options as the specification
// does (an unknown alphabet or lastChunkHandling is a TypeError; base64 is the default alphabet,
// with padding), so the options passed are the ones that give base64url without padding.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encode as fallbackEncode } from '../src/base64url.ts'; // loaded before the methods exist: btoa's path
import { root } from './support/child.ts';

const vectors = ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar', '\u00fb\u00ff\u00fe', '\u00ff'.repeat(70)].map((text) => Uint8Array.from(text, (c) => c.charCodeAt(0)));
const node = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

describe('in Deno, which has the native methods', () => {
  it('encode and decode take them, and agree with Node\'s base64url', () => {
    const script = `
      import { decode, encode } from './src/base64url.ts';
      const input = JSON.parse(Deno.args[0]);
      console.log(JSON.stringify({
        native: typeof Uint8Array.prototype.toBase64 === 'function' && typeof Uint8Array.fromBase64 === 'function',
        encoded: input.map((b) => encode(Uint8Array.from(b))),
        decoded: input.map((b) => [...decode(encode(Uint8Array.from(b)))]),
        padded: [...decode('Zg==')],
        refused: ['a+b', 'a', 'ab=c'].map((t) => { try { decode(t); return 'accepted'; } catch (e) { return e.message; } }),
      }));`;
    const out = execFileSync(join(root, 'node_modules/.bin/deno'), ['eval', '--ext=ts', script, JSON.stringify(vectors.map((v) => [...v]))], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const result = JSON.parse(out);
    expect(result.native).toBe(true);
    expect(result.encoded).toEqual(vectors.map(node));
    expect(result.decoded).toEqual(vectors.map((v) => [...v]));
    expect(result.padded).toEqual([0x66]);
    expect(result.refused).toEqual(['invalid base64url', 'invalid base64url', 'invalid base64url']);
  });
});

/** The specification's option checks, over Node's Buffer. */
function toBase64(this: Uint8Array, options: { alphabet?: unknown; omitPadding?: unknown } = {}): string {
  const alphabet = options.alphabet ?? 'base64';
  if (alphabet !== 'base64' && alphabet !== 'base64url') throw new TypeError('expected alphabet to be either "base64" or "base64url"');
  const text = Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('base64');
  const encoded = alphabet === 'base64url' ? text.replace(/\+/g, '-').replace(/\//g, '_') : text;
  return options.omitPadding ? encoded.replace(/=+$/, '') : encoded;
}
function fromBase64(text: string, options: { alphabet?: unknown; lastChunkHandling?: unknown } = {}): Uint8Array {
  const alphabet = options.alphabet ?? 'base64';
  if (alphabet !== 'base64' && alphabet !== 'base64url') throw new TypeError('expected alphabet to be either "base64" or "base64url"');
  const handling = options.lastChunkHandling ?? 'loose';
  if (handling !== 'loose' && handling !== 'strict' && handling !== 'stop-before-partial') throw new TypeError('bad lastChunkHandling');
  const valid = alphabet === 'base64url' ? /^[A-Za-z0-9_-]*={0,2}$/ : /^[A-Za-z0-9+/]*={0,2}$/;
  if (!valid.test(text) || text.replace(/=+$/, '').length % 4 === 1) throw new SyntaxError('invalid base64');
  if (handling === 'strict' && text.length % 4 !== 0) throw new SyntaxError('missing padding');
  return new Uint8Array(Buffer.from(text, 'base64'));
}

describe('in Node 20, over an implementation that checks the options', () => {
  const prototype = Uint8Array.prototype as unknown as Record<string, unknown>;
  const constructor = Uint8Array as unknown as Record<string, unknown>;
  let encode: (bytes: Uint8Array) => string;
  let decode: (text: string) => Uint8Array;
  const calls: string[] = [];
  beforeAll(async () => {
    expect(prototype.toBase64).toBeUndefined(); // if Node gets them, the Deno test above is this one
    prototype.toBase64 = function (this: Uint8Array, options?: object) {
      calls.push('toBase64');
      return toBase64.call(this, options);
    };
    constructor.fromBase64 = (text: string, options?: object) => {
      calls.push('fromBase64');
      return fromBase64(text, options);
    };
    // A fresh instance of the module, which looks for the native methods when it loads.
    ({ encode, decode } = await import('../src/base64url.ts?native'));
  });
  afterAll(() => {
    delete prototype.toBase64;
    delete constructor.fromBase64;
  });

  it('encode and decode call them, and agree with Node\'s base64url (property)', () => {
    expect(encode).not.toBe(fallbackEncode);
    for (const bytes of vectors) {
      expect(encode(bytes)).toBe(node(bytes));
      expect(fallbackEncode(bytes)).toBe(node(bytes));
      expect([...decode(node(bytes))]).toEqual([...bytes]);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(encode(bytes)).toBe(node(bytes));
        expect([...decode(encode(bytes))]).toEqual([...bytes]);
      }),
      { numRuns: 300 },
    );
    expect(calls).toContain('toBase64');
    expect(calls).toContain('fromBase64');
  });

  it('padding is accepted, and what is no base64url is refused before the native method sees it', () => {
    expect([...decode('Zg==')]).toEqual([0x66]);
    calls.length = 0;
    for (const bad of ['a+b', 'a/b', 'a', 'ab=c']) expect(() => decode(bad), bad).toThrow(new SyntaxError('invalid base64url'));
    expect(calls).toEqual([]);
  });
});
