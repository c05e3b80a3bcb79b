import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { calculateThumbprint, exportPublicJwk, generateKeyPair } from '../../src/index.ts';
import { caught } from '../helpers.ts';

// RFC 7638 §3.1, the specification's own example.
const RFC7638_JWK = {
  kty: 'RSA',
  n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  e: 'AQAB',
  alg: 'RS256',
  kid: '2011-04-29',
};

describe('calculateThumbprint', () => {
  it('reproduces RFC 7638 §3.1', async () => {
    expect(await calculateThumbprint(RFC7638_JWK)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('equals jose’s thumbprint for a key pair, its public key and its JWK', async () => {
    for (let i = 0; i < 20; i++) {
      const keyPair = await generateKeyPair();
      const jwk = await exportPublicJwk(keyPair);
      const expected = await jose.calculateJwkThumbprint(jwk, 'sha256');
      expect(await calculateThumbprint(keyPair)).toBe(expected);
      expect(await calculateThumbprint(keyPair.publicKey)).toBe(expected);
      expect(await calculateThumbprint({ ...jwk, kid: 'ignored', use: 'sig' })).toBe(expected);
    }
  });

  it('differs between keys (a negative beside the positive)', async () => {
    const [a, b] = [await generateKeyPair(), await generateKeyPair()];
    expect(await calculateThumbprint(a)).not.toBe(await calculateThumbprint(b));
  });

  it('handles OKP and oct keys like jose', async () => {
    const okp = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
    const oct = { kty: 'oct', k: 'GawgguFyGrWKav7AX4VKUg' };
    expect(await calculateThumbprint(okp)).toBe(await jose.calculateJwkThumbprint(okp));
    expect(await calculateThumbprint(oct)).toBe(await jose.calculateJwkThumbprint(oct));
  });

  it('rejects what is not a key with a typed error', async () => {
    expect((await caught(() => calculateThumbprint('nope' as never))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await caught(() => calculateThumbprint(null as never))).code).toBe('ERR_INVALID_ARG_TYPE');
    const noKty = await caught(() => calculateThumbprint({ x: 'a' }));
    expect(noKty.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(noKty.message).toBe('"key.kty" must be one of "EC", "RSA", "OKP", "oct"');
    const noY = await caught(() => calculateThumbprint({ kty: 'EC', crv: 'P-256', x: 'a' }));
    expect(noY.message).toBe('"key.y" must be a non-empty string');
    const privateOnly = await caught(async () => calculateThumbprint((await generateKeyPair()).privateKey));
    expect(privateOnly.code).toBe('ERR_INVALID_ARG_TYPE');
    const notAnObject = await caught(() => calculateThumbprint(5 as never));
    expect(notAnObject.message).toBe('"key" must be a CryptoKeyPair, a public CryptoKey or a JWK object');
  });

  // Each refused the same way jose refuses it (its own error types), never an untyped crash.
  const refused: Array<[string, Record<string, unknown>, string]> = [
    // kty named after an Object.prototype member once reached a "members is not iterable" TypeError.
    ['kty "constructor"', { kty: 'constructor', crv: 'P-256', x: 'a', y: 'b' }, '"key.kty" must be one of "EC", "RSA", "OKP", "oct"'],
    ['kty "__proto__"', { kty: '__proto__' }, '"key.kty" must be one of "EC", "RSA", "OKP", "oct"'],
    ['kty "toString"', { kty: 'toString' }, '"key.kty" must be one of "EC", "RSA", "OKP", "oct"'],
    ['kty not a string', { kty: ['EC'], crv: 'P-256', x: 'a', y: 'b' }, '"key.kty" must be one of "EC", "RSA", "OKP", "oct"'],
    ['an empty required member', { kty: 'EC', crv: '', x: 'a', y: 'b' }, '"key.crv" must be a non-empty string'],
  ];
  for (const [name, jwk, message] of refused) {
    it(`refuses a JWK with ${name}, as jose does`, async () => {
      await expect(jose.calculateJwkThumbprint(jwk as jose.JWK)).rejects.toThrow();
      const err = await caught(() => calculateThumbprint(jwk));
      expect(err).toBeInstanceOf(TypeError);
      expect({ code: err.code, message: err.message }).toEqual({ code: 'ERR_INVALID_ARG_VALUE', message });
    });
  }
});
