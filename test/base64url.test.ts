import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decode, encode, encodeAscii, encodeText } from '../src/base64url.ts';

const RUNS = { numRuns: 1000 };

describe('base64url', () => {
  it('matches Node’s base64url for RFC 4648 vectors', () => {
    for (const text of ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar']) {
      const bytes = new TextEncoder().encode(text);
      expect(encode(bytes)).toBe(Buffer.from(text).toString('base64url'));
    }
    expect(encode(Uint8Array.of(0xfb, 0xff, 0xfe))).toBe('-__-');
  });

  it('round-trips arbitrary bytes and agrees with Node (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = encode(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64url'));
        expect([...decode(text)]).toEqual([...bytes]);
      }),
      RUNS,
    );
  });

  it('encodes large buffers (beyond one String.fromCharCode chunk)', () => {
    const bytes = new Uint8Array(200_000).map((_, i) => i * 7);
    expect(encode(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
  });

  it('encodes text as UTF-8 on both the ASCII and non-ASCII paths (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(encodeText(text)).toBe(Buffer.from(text, 'utf8').toString('base64url'));
      }),
      RUNS,
    );
    expect(encodeAscii('{"a":1}')).toBe(Buffer.from('{"a":1}').toString('base64url'));
  });

  it('accepts padding on decode and rejects characters outside the alphabet', () => {
    expect([...decode('Zg==')]).toEqual([0x66]);
    // RFC 4648 §3.2: "=" pads the end, and nowhere else.
    for (const bad of ['a+b', 'a/b', 'ab$', 'a', 'abcde', 'ab cd', 'ab=c', 'Zg==Zg', '=Zg']) {
      expect(() => decode(bad), bad).toThrow(new SyntaxError('invalid base64url'));
    }
  });
});
