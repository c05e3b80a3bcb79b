import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { challengeError, parseWwwAuthenticate } from '../src/www-authenticate.ts';

const params = (o: Record<string, string>) => Object.assign(Object.create(null), o);

describe('parseWwwAuthenticate', () => {
  it('reads one DPoP challenge', () => {
    expect(parseWwwAuthenticate('DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"')).toEqual([
      { scheme: 'dpop', params: params({ error: 'use_dpop_nonce', error_description: 'Resource server requires nonce in DPoP proof' }) },
    ]);
  });

  it('reads several challenges, commas and escapes inside quotes, token values and odd spacing', () => {
    const header =
      'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple", ' +
      'Bearer realm="a, b", error="invalid_token",DPoP   algs="ES256 PS256" ,  error = use_dpop_nonce , error_description="a \\\\ b, c"';
    expect(parseWwwAuthenticate(header)).toEqual([
      { scheme: 'newauth', params: params({ realm: 'apps', type: '1', title: 'Login to "apps"' }) },
      { scheme: 'basic', params: params({ realm: 'simple' }) },
      { scheme: 'bearer', params: params({ realm: 'a, b', error: 'invalid_token' }) },
      { scheme: 'dpop', params: params({ algs: 'ES256 PS256', error: 'use_dpop_nonce', error_description: 'a \\ b, c' }) },
    ]);
  });

  it('reads token68 and bare schemes', () => {
    expect(parseWwwAuthenticate('Negotiate, Custom abc+/def==, DPoP error="x"')).toEqual([
      { scheme: 'negotiate', params: params({}) },
      { scheme: 'custom', params: params({}), token68: 'abc+/def==' },
      { scheme: 'dpop', params: params({ error: 'x' }) },
    ]);
  });

  it('is case-insensitive for schemes and parameter names, not values', () => {
    expect(challengeError('dpop ERROR="use_dpop_nonce"', 'dpop')).toBe('use_dpop_nonce');
    expect(challengeError('DPOP Error="Use_DPoP_Nonce"', 'dpop')).toBe('Use_DPoP_Nonce');
    expect(challengeError('Bearer error="use_dpop_nonce"', 'dpop')).toBeUndefined();
    expect(challengeError(null, 'dpop')).toBeUndefined();
  });

  it('does not mistake a quoted value for a challenge (substring tests would)', () => {
    const header = 'Bearer error_description="try DPoP error=\\"use_dpop_nonce\\""';
    expect(challengeError(header, 'dpop')).toBeUndefined();
  });

  it('keeps a parameter named __proto__ as data, without touching any prototype', () => {
    const [challenge] = parseWwwAuthenticate('DPoP __proto__="x", constructor=y, error="use_dpop_nonce"');
    expect(Object.getPrototypeOf(challenge!.params)).toBeNull();
    expect(Object.keys(challenge!.params)).toEqual(['__proto__', 'constructor', 'error']);
    expect(challenge!.params.error).toBe('use_dpop_nonce');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('survives junk without throwing and keeps what it can read', () => {
    for (const junk of ['', ',,,', '=', '"', 'DPoP error="unterminated', 'DPoP ,,, error="x"', '(((', 'DPoP error=', 'a=b=c', '\u00ff\u0000']) {
      expect(() => parseWwwAuthenticate(junk), junk).not.toThrow();
    }
    expect(challengeError('DPoP ,,, error="x"', 'dpop')).toBe('x');
    expect(challengeError('DPoP error="unterminated', 'dpop')).toBe('unterminated');
  });

  it('skips an item that is no challenge, and the parameters after it belong to nothing', () => {
    // RFC 9110 §11.6.1: a challenge starts with an auth-scheme token; a quoted string or a bare
    // "=" cannot start one, so it is no challenge (no scheme "") and no challenge's parameter.
    expect(parseWwwAuthenticate('"junk", DPoP error="e"')).toEqual([{ scheme: 'dpop', params: params({ error: 'e' }) }]);
    expect(parseWwwAuthenticate('DPoP error="a", "junk", algs="ES256", =x, Bearer realm="r"')).toEqual([
      { scheme: 'dpop', params: params({ error: 'a' }) },
      { scheme: 'bearer', params: params({ realm: 'r' }) },
    ]);
  });

  it('keeps the first value of a parameter named twice', () => {
    // RFC 9110 §11.2: a parameter name occurs once per challenge; a server that repeats one gets
    // its first value, so a later "error" cannot replace the one the server led with.
    // (oauth4webapi keeps the last: the RFC leaves it open.)
    expect(parseWwwAuthenticate('DPoP error="use_dpop_nonce", ERROR="invalid_token"')).toEqual([{ scheme: 'dpop', params: params({ error: 'use_dpop_nonce' }) }]);
  });

  const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,10}$/);
  const value = fc.string({ unit: fc.constantFrom(...'ab ,="\\=;/xyz'.split('')), maxLength: 20 });
  const challenge = fc.record({
    scheme: token,
    params: fc.uniqueArray(fc.tuple(token, value, fc.boolean()), { selector: ([n]) => n.toLowerCase(), maxLength: 4 }),
  });
  const quote = (v: string) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

  it('parses what it is given back for generated challenges (property)', () => {
    fc.assert(
      fc.property(fc.array(challenge, { minLength: 1, maxLength: 4 }), fc.constantFrom(', ', ',', ' , '), (list, sep) => {
        const header = list
          .map(({ scheme, params: ps }) => `${scheme} ${ps.map(([n, v, asToken]) => `${n}=${asToken && /^[a-z]+$/.test(v) ? v : quote(v)}`).join(sep)}`.trim())
          .join(sep);
        const parsed = parseWwwAuthenticate(header);
        expect(parsed.map((c) => c.scheme)).toEqual(list.map((c) => c.scheme.toLowerCase()));
        list.forEach(({ params: ps }, i) => {
          expect(parsed[i]!.params).toEqual(params(Object.fromEntries(ps.map(([n, v]) => [n.toLowerCase(), v]))));
        });
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on arbitrary text (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => void parseWwwAuthenticate(text)), { numRuns: 1000 });
  });
});
