// The argument checks every export shares (src/assert.ts): the error each one throws is what a
// caller sees (a TypeError with a Node-style code, a message naming the argument), so each check
// is pinned here at its edges: the values it must accept and the first ones it must refuse.
import { describe, expect, it } from 'vitest';
import {
  assertBoolean,
  assertFunction,
  assertNumber,
  assertObject,
  assertOneOf,
  assertOptionalObject,
  assertOptionalString,
  assertSigningKeyPair,
  assertString,
  isCryptoKeyPair,
  isLoopback,
  parseHttpUrl,
  parseUrl,
  tagOf,
} from '../src/assert.ts';

/** The error `fn` throws, as { code, message } (and that it is a TypeError); undefined when none. */
function refusal(fn: () => unknown): { code: string; message: string } | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
  return undefined;
}
const type = (message: string) => ({ code: 'ERR_INVALID_ARG_TYPE', message });
const value = (message: string) => ({ code: 'ERR_INVALID_ARG_VALUE', message });

describe('argument checks', () => {
  it('objects: a non-null, non-array object; optional ones also accept undefined', () => {
    for (const ok of [{}, { a: 1 }, new Map(), Object.create(null)]) expect(refusal(() => assertObject(ok, 'o'))).toBeUndefined();
    for (const bad of [null, undefined, [], [1], 'x', 1, true, () => {}]) expect(refusal(() => assertObject(bad, 'o.p'))).toEqual(type('"o.p" must be an object'));
    expect(refusal(() => assertOptionalObject(undefined, 'o'))).toBeUndefined();
    expect(refusal(() => assertOptionalObject({}, 'o'))).toBeUndefined();
    for (const bad of [null, [], 0, '']) expect(refusal(() => assertOptionalObject(bad, 'opt'))).toEqual(type('"opt" must be an object'));
  });

  it('strings: a non-empty string; optional ones also accept undefined', () => {
    expect(refusal(() => assertString('a', 's'))).toBeUndefined();
    expect(refusal(() => assertString(' ', 's'))).toBeUndefined();
    for (const bad of [undefined, null, 1, {}, new String('a')]) expect(refusal(() => assertString(bad, 's'))).toEqual(type('"s" must be a string'));
    expect(refusal(() => assertString('', 's'))).toEqual(value('"s" must not be empty'));
    expect(refusal(() => assertOptionalString(undefined, 's'))).toBeUndefined();
    expect(refusal(() => assertOptionalString('x', 's'))).toBeUndefined();
    expect(refusal(() => assertOptionalString('', 's'))).toEqual(value('"s" must not be empty'));
    expect(refusal(() => assertOptionalString(null, 's'))).toEqual(type('"s" must be a string'));
  });

  it('booleans and functions: undefined or the type', () => {
    for (const ok of [undefined, true, false]) expect(refusal(() => assertBoolean(ok, 'b'))).toBeUndefined();
    for (const bad of [null, 0, 1, 'true', {}]) expect(refusal(() => assertBoolean(bad, 'b'))).toEqual(type('"b" must be a boolean'));
    for (const ok of [undefined, () => {}, async () => {}, class {}]) expect(refusal(() => assertFunction(ok, 'f'))).toBeUndefined();
    for (const bad of [null, 0, 'f', {}]) expect(refusal(() => assertFunction(bad, 'f'))).toEqual(type('"f" must be a function'));
  });

  it('numbers: finite, within [min, max] bounds included, whole when asked', () => {
    const range = { min: 1, max: 10 };
    for (const ok of [undefined, 1, 10, 5.5]) expect(refusal(() => assertNumber(ok, 'n', range))).toBeUndefined();
    for (const bad of [0.999, 10.001, NaN, Infinity, -Infinity]) expect(refusal(() => assertNumber(bad, 'n', range))).toEqual(value('"n" must be a number between 1 and 10'));
    for (const bad of ['1', null, 1n]) expect(refusal(() => assertNumber(bad, 'n', range))).toEqual(type('"n" must be a number'));
    expect(refusal(() => assertNumber(2.5, 'n', { ...range, integer: true }))).toEqual(value('"n" must be an integer between 1 and 10'));
    expect(refusal(() => assertNumber(2, 'n', { ...range, integer: true }))).toBeUndefined();
    // No bounds: every finite number, any whole number when integer.
    for (const ok of [-1e300, 0, 1e300, -0.5]) expect(refusal(() => assertNumber(ok, 'n'))).toBeUndefined();
    expect(refusal(() => assertNumber(-7, 'n', { integer: true }))).toBeUndefined();
    expect(refusal(() => assertNumber(Infinity, 'n'))).toEqual(value('"n" must be a number between -Infinity and Infinity'));
    expect(refusal(() => assertNumber(0.5, 'n', { min: 0 }))).toBeUndefined();
    expect(refusal(() => assertNumber(-0.5, 'n', { max: 0 }))).toBeUndefined();
  });

  it('one of a set: undefined or a listed string, the list quoted in the message', () => {
    const allowed = ['GET', 'POST'] as const;
    for (const ok of [undefined, 'GET', 'POST']) expect(refusal(() => assertOneOf(ok, 'm', allowed))).toBeUndefined();
    for (const bad of ['get', 'PUT', '']) expect(refusal(() => assertOneOf(bad, 'm', allowed))).toEqual(value('"m" must be one of "GET", "POST"'));
    expect(refusal(() => assertOneOf(1, 'm', allowed))).toEqual(type('"m" must be a string'));
  });

  it('URLs: a string or URL object that parses; http(s) only where asked', () => {
    expect(parseUrl('urn:x:y', 'u').href).toBe('urn:x:y');
    expect(parseUrl(new URL('https://a.example/p'), 'u').href).toBe('https://a.example/p');
    expect(refusal(() => parseUrl('/relative', 'u'))).toEqual(value('"u" must be an absolute URL'));
    expect(refusal(() => parseUrl('/relative', 'u', 'a thing'))).toEqual(value('"u" must be a thing'));
    for (const bad of [undefined, 1, { href: 'https://a.example/' }]) expect(refusal(() => parseUrl(bad, 'u'))).toEqual(type('"u" must be a string or URL'));
    expect(parseHttpUrl('http://a.example', 'h').href).toBe('http://a.example/');
    expect(parseHttpUrl(new URL('https://a.example'), 'h').href).toBe('https://a.example/');
    for (const bad of ['ftp://a.example/', 'urn:x', 'nope']) expect(refusal(() => parseHttpUrl(bad, 'h'))).toEqual(value('"h" must be an absolute http: or https: URL'));
    expect(refusal(() => parseHttpUrl(null, 'h'))).toEqual(type('"h" must be a string or URL'));
  });

  it('loopback hosts: localhost and its subdomains, [::1], 127.0.0.0/8; nothing that only looks like them', () => {
    for (const host of ['localhost', 'app.localhost', '[::1]', '127.0.0.1', '127.255.10.1', '127.1']) expect(isLoopback(new URL(`http://${host}:8080/`)), host).toBe(true);
    for (const host of ['localhost.example', 'xlocalhost', 'example.com', '[::2]', '128.0.0.1', '10.127.0.1', '127.0.0.1.nip.io', '0.0.0.0']) expect(isLoopback(new URL(`http://${host}/`)), host).toBe(false);
  });

  it('tagOf names the built-in type, whatever realm made it', () => {
    expect(tagOf(new ArrayBuffer(1))).toBe('ArrayBuffer');
    expect(tagOf(new URL('https://a.example'))).toBe('URL');
    expect(tagOf(null)).toBe('Null');
    expect(tagOf({ [Symbol.toStringTag]: 'CryptoKey' })).toBe('CryptoKey');
  });
});

describe('signing key pairs', () => {
  const p256 = crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  /** An object that says it is a CryptoKey (as one from another realm does), with these fields. */
  const like = (fields: Record<string, unknown>) => ({ [Symbol.toStringTag]: 'CryptoKey', ...fields });
  const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' };

  it('accepts an ECDSA P-256 pair, and refuses what is not a pair', async () => {
    const pair = await p256;
    expect(refusal(() => assertSigningKeyPair(pair, 'k'))).toBeUndefined();
    expect(isCryptoKeyPair(pair)).toBe(true);
    for (const bad of [undefined, null, {}, { privateKey: pair.privateKey }, { publicKey: pair.publicKey }, [pair.privateKey, pair.publicKey], pair.privateKey]) {
      expect(refusal(() => assertSigningKeyPair(bad, 'k'))).toEqual(type('"k" must be a CryptoKeyPair'));
    }
    expect(isCryptoKeyPair({ privateKey: {}, publicKey: pair.publicKey })).toBe(false);
    expect(isCryptoKeyPair({ privateKey: pair.privateKey, publicKey: {} })).toBe(false);
  });

  it('refuses other algorithms and curves', async () => {
    const wrong = async (algorithm: EcKeyGenParams | RsaHashedKeyGenParams | Algorithm) => (await crypto.subtle.generateKey(algorithm as EcKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
    const message = value('"k" must be an ECDSA P-256 key pair (use generateKeyPair or importKeyPair)');
    for (const pair of [
      await wrong({ name: 'ECDSA', namedCurve: 'P-384' }),
      await wrong({ name: 'Ed25519' }),
      await wrong({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }),
    ]) {
      expect(refusal(() => assertSigningKeyPair(pair, 'k'))).toEqual(message);
    }
    // ECDH on P-256 has the right curve and the wrong algorithm.
    const ecdh = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits'])) as CryptoKeyPair;
    expect(refusal(() => assertSigningKeyPair(ecdh, 'k'))).toEqual(message);
  });

  it('wants a private key that signs in privateKey and a public key in publicKey', async () => {
    const pair = await p256;
    expect(refusal(() => assertSigningKeyPair({ privateKey: pair.publicKey, publicKey: pair.publicKey }, 'k'))).toEqual(value('"k.privateKey" must be a private key usable for "sign"'));
    expect(refusal(() => assertSigningKeyPair({ privateKey: pair.privateKey, publicKey: pair.privateKey }, 'k'))).toEqual(value('"k.publicKey" must be a public key'));
    // Each half of the private key's check alone (keys that only another realm could hand over).
    const publicKey = pair.publicKey;
    expect(refusal(() => assertSigningKeyPair({ privateKey: like({ algorithm: ecdsa, type: 'private', usages: ['verify'] }), publicKey }, 'k'))).toEqual(value('"k.privateKey" must be a private key usable for "sign"'));
    expect(refusal(() => assertSigningKeyPair({ privateKey: like({ algorithm: ecdsa, type: 'public', usages: ['sign'] }), publicKey }, 'k'))).toEqual(value('"k.privateKey" must be a private key usable for "sign"'));
    expect(refusal(() => assertSigningKeyPair({ privateKey: like({ algorithm: ecdsa, type: 'private', usages: ['sign'] }), publicKey }, 'k'))).toBeUndefined();
  });
});
