import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { calculateThumbprint, createProof, exportPublicJwk, generateKeyPair } from '../src/index.ts';
import { caught, decodeProof, sha256b64url, verifyProof } from './helpers.ts';

const keyPair = await generateKeyPair();

// [input URL, the htu the RFC defines for it] — computed by hand, not by the code under test.
const URLS: Array<[string, string]> = [
  ['https://rs.example.com/resource', 'https://rs.example.com/resource'],
  ['https://rs.example.com/resource?x=1&y=2', 'https://rs.example.com/resource'],
  ['https://rs.example.com/resource#frag', 'https://rs.example.com/resource'],
  ['https://rs.example.com/a/b?q#f', 'https://rs.example.com/a/b'],
  ['https://rs.example.com', 'https://rs.example.com/'],
  ['https://RS.Example.COM/Path', 'https://rs.example.com/Path'],
  ['https://rs.example.com:443/x', 'https://rs.example.com/x'],
  ['http://rs.example.com:80/x', 'http://rs.example.com/x'],
  ['https://rs.example.com:8443/x', 'https://rs.example.com:8443/x'],
  ['http://127.0.0.1:3000/token', 'http://127.0.0.1:3000/token'],
  ['https://[::1]:8443/api?x', 'https://[::1]:8443/api'],
  ['https://[2001:DB8::1]/api', 'https://[2001:db8::1]/api'],
  ['https://rs.example.com/a%20b/%7Euser', 'https://rs.example.com/a%20b/%7Euser'],
  ['https://rs.example.com/a b/ü', 'https://rs.example.com/a%20b/%C3%BC'],
  ['https://user:pass@rs.example.com/x', 'https://rs.example.com/x'],
  ['https://bücher.example/x', 'https://xn--bcher-kva.example/x'],
  ['https://rs.example.com/a/../b/./c', 'https://rs.example.com/b/c'],
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND'];

describe('createProof', () => {
  it('verifies with jose for every method and URL, with the claims RFC 9449 §4.2 requires', async () => {
    const jwk = await exportPublicJwk(keyPair);
    for (const htm of METHODS) {
      for (const [input, htu] of URLS) {
        // iat is one second back (no server without leeway sees it in its future, issue 17).
        const before = Math.floor(Date.now() / 1000) - 1;
        const proof = await createProof(keyPair, { htm, htu: input });
        const { payload, protectedHeader } = await verifyProof(proof);
        expect(protectedHeader).toEqual({ typ: 'dpop+jwt', alg: 'ES256', jwk });
        expect(payload.htm).toBe(htm);
        expect(payload.htu, input).toBe(htu);
        expect(payload.iat).toBeGreaterThanOrEqual(before);
        expect(payload.iat).toBeLessThanOrEqual(Date.now() / 1000 - 1);
        expect(Number.isInteger(payload.iat)).toBe(true);
        expect(Object.keys(payload).sort()).toEqual(['htm', 'htu', 'iat', 'jti']);
        // And the key in the header is the caller's own key, not just any key.
        await jose.compactVerify(proof, keyPair.publicKey);
      }
    }
  });

  it('dates a proof now, as a verifier that bounds its age sees it (iat in seconds)', async () => {
    const proof = await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/x' });
    // jose refuses an iat in the future or older than maxTokenAge, as a resource server does.
    await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'], maxTokenAge: 60 });
  });

  it('accepts a URL object and upper-cases the method', async () => {
    const { claims } = decodeProof(await createProof(keyPair, { htm: 'post', htu: new URL('https://a.example/p?q') }));
    expect(claims).toMatchObject({ htm: 'POST', htu: 'https://a.example/p' });
  });

  it('adds ath = base64url(SHA-256(token)) and the nonce when given', async () => {
    const accessToken = 'eyJ0eXAiOiJhdCtqd3QifQ.Kz~ZWQiOiJ0b2tlbiJ9-_.sig+/=';
    const nonce = 'eyJ7S_zG.eyJH0-Z.HX4w-7v';
    const proof = await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/x', accessToken, nonce });
    const { payload } = await verifyProof(proof);
    expect(payload.ath).toBe(await sha256b64url(accessToken));
    expect(payload.nonce).toBe(nonce);
    const other = decodeProof(await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/x', accessToken: accessToken + 'x' }));
    expect(other.claims.ath).not.toBe(payload.ath);
    expect(other.claims.nonce).toBeUndefined();
  });

  it('the same token again, and after 40 others (more than the 16 remembered): each ath is still SHA-256 of its own token', async () => {
    const tokens = Array.from({ length: 40 }, (_, i) => `token-${i}-${'x'.repeat(i)}`);
    for (const round of [1, 2]) {
      for (const accessToken of [...tokens, tokens[0]!, tokens[0]!]) {
        const { claims } = decodeProof(await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/x', accessToken }));
        expect(claims.ath, `${accessToken}, round ${round}`).toBe(await sha256b64url(accessToken));
      }
    }
  });

  it('reproduces the ath of RFC 9449 §7.1', async () => {
    const accessToken = 'Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU';
    const { claims } = decodeProof(await createProof(keyPair, { htm: 'GET', htu: 'https://resource.example.org/protectedresource', accessToken }));
    expect(claims.ath).toBe('fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo');
  });

  it('makes a fresh jti of at least 96 random bits for every proof', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const { claims } = decodeProof(await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/' }));
      const jti = claims.jti as string;
      expect(jti).toMatch(/^[A-Za-z0-9_-]{22,}$/); // 22 base64url chars = 128 bits
      seen.add(jti);
    }
    expect(seen.size).toBe(2000);
  });

  it('uses the given iat and jti', async () => {
    const { claims } = decodeProof(await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/', iat: 1700000000, jti: 'my-id' }));
    expect(claims).toMatchObject({ iat: 1700000000, jti: 'my-id' });
  });

  it('fails verification when one signature byte flips (negative control)', async () => {
    const proof = await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/' });
    const [h, p, s] = proof.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    expect(sig.length).toBe(64); // raw R||S, not DER
    sig[10]! ^= 1;
    await expect(verifyProof(`${h}.${p}.${sig.toString('base64url')}`)).rejects.toThrow();
    const tampered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), htm: 'POST' })).toString('base64url');
    await expect(verifyProof(`${h}.${tampered}.${s}`)).rejects.toThrow();
  });

  it('reuses one header segment per key and embeds the key whose thumbprint is the jkt', async () => {
    const a = await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/1' });
    const b = await createProof(keyPair, { htm: 'POST', htu: 'https://rs.example/2' });
    expect(a.split('.')[0]).toBe(b.split('.')[0]);
    const { header } = decodeProof(a);
    expect(await jose.calculateJwkThumbprint(header.jwk as jose.JWK)).toBe(await calculateThumbprint(keyPair));
    const other = await generateKeyPair();
    expect((await createProof(other, { htm: 'GET', htu: 'https://rs.example/1' })).split('.')[0]).not.toBe(a.split('.')[0]);
  });

  it('checks its arguments in order with typed errors', async () => {
    const cases: Array<[() => Promise<unknown>, string, string]> = [
      [() => createProof(undefined as never, { htm: 'GET', htu: 'https://a/' }), 'ERR_INVALID_ARG_TYPE', '"keyPair" must be a CryptoKeyPair'],
      [() => createProof(keyPair, undefined as never), 'ERR_INVALID_ARG_TYPE', '"options" must be an object'],
      [() => createProof(keyPair, { htu: 'https://a/' } as never), 'ERR_INVALID_ARG_TYPE', '"options.htm" must be a string'],
      [() => createProof(keyPair, { htm: 'GE T', htu: 'https://a/' }), 'ERR_INVALID_ARG_VALUE', '"options.htm" must be an HTTP method name'],
      [() => createProof(keyPair, { htm: 'GET', htu: '/relative' }), 'ERR_INVALID_ARG_VALUE', '"options.htu" must be an absolute http: or https: URL'],
      [() => createProof(keyPair, { htm: 'GET', htu: 'ftp://a/' }), 'ERR_INVALID_ARG_VALUE', '"options.htu" must be an absolute http: or https: URL'],
      [() => createProof(keyPair, { htm: 'GET', htu: 5 as never }), 'ERR_INVALID_ARG_TYPE', '"options.htu" must be a string or URL'],
      [() => createProof(keyPair, { htm: 'GET', htu: 'https://a/', accessToken: '' }), 'ERR_INVALID_ARG_VALUE', '"options.accessToken" must not be empty'],
      [() => createProof(keyPair, { htm: 'GET', htu: 'https://a/', nonce: 5 as never }), 'ERR_INVALID_ARG_TYPE', '"options.nonce" must be a string'],
      [() => createProof(keyPair, { htm: 'GET', htu: 'https://a/', nonce: 'a"b' }), 'ERR_INVALID_ARG_VALUE', '"options.nonce" must be visible ASCII without quotes or backslashes (RFC 9449 §8.1)'],
      [() => createProof(keyPair, { htm: 'GET', htu: 'https://a/', iat: 1.5 }), 'ERR_INVALID_ARG_VALUE', '"options.iat" must be an integer between 0 and Infinity'],
      [() => createProof(keyPair, { htm: 'GET', htu: 'https://a/', jti: 7 as never }), 'ERR_INVALID_ARG_TYPE', '"options.jti" must be a string'],
    ];
    for (const [run, code, message] of cases) {
      const err = await caught(run);
      expect(err).toBeInstanceOf(TypeError);
      expect({ code: err.code, message: err.message }).toEqual({ code, message });
    }
  });

  it('refuses a key pair that is not ECDSA P-256', async () => {
    const rsa = await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
    const err = await caught(() => createProof(rsa, { htm: 'GET', htu: 'https://a/' }));
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
  });

  it('keeps proofs in flight apart: 300 signed at once all verify with their own claims', async () => {
    // The bytes to sign are cut from 16 KB slabs: 300 proofs of varied sizes cross several slab
    // boundaries, where a region cut short or shared would sign the wrong bytes.
    const urls = Array.from({ length: 300 }, (_, i) => `https://rs.example/item/${i}${'x'.repeat(i % 97)}`);
    const proofs = await Promise.all(urls.map((htu, i) => createProof(keyPair, { htm: 'GET', htu, nonce: `n-${i}` })));
    for (const [i, proof] of proofs.entries()) {
      const { payload } = await verifyProof(proof);
      expect(payload).toMatchObject({ htu: urls[i], nonce: `n-${i}` });
    }
  });

  it('quotes what JSON must quote: a host with a quote, a non-ASCII jti', async () => {
    const quoted = await verifyProof(await createProof(keyPair, { htm: 'GET', htu: 'http://a"b/x' }));
    expect(quoted.payload.htu).toBe('http://a"b/x');
    const unicode = await verifyProof(await createProof(keyPair, { htm: 'GET', htu: 'https://a/', jti: 'id-ü-"\\-✓' }));
    expect(unicode.payload.jti).toBe('id-ü-"\\-✓');
  });

  it('refuses a pair whose public member is a private key or missing, after its private key served', async () => {
    await createProof(keyPair, { htm: 'GET', htu: 'https://a/' });
    const swapped = { privateKey: keyPair.privateKey, publicKey: keyPair.privateKey };
    const err = await caught(() => createProof(swapped, { htm: 'GET', htu: 'https://a/' }));
    expect({ code: err.code, message: err.message }).toEqual({ code: 'ERR_INVALID_ARG_VALUE', message: '"keyPair.publicKey" must be a public key' });
    expect((await caught(() => createProof({ privateKey: keyPair.privateKey } as never, { htm: 'GET', htu: 'https://a/' }))).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('derives htu afresh for a URL object that changed, and never remembers a refused URL', async () => {
    const url = new URL('https://a.example/one?x');
    expect(decodeProof(await createProof(keyPair, { htm: 'GET', htu: url })).claims.htu).toBe('https://a.example/one');
    url.pathname = '/two';
    expect(decodeProof(await createProof(keyPair, { htm: 'GET', htu: url })).claims.htu).toBe('https://a.example/two');
    for (let i = 0; i < 2; i++) {
      expect(decodeProof(await createProof(keyPair, { htm: 'GET', htu: 'https://a.example/p?q=1#f' })).claims.htu).toBe('https://a.example/p');
      expect((await caught(() => createProof(keyPair, { htm: 'GET', htu: 'ftp://a.example/p' }))).code).toBe('ERR_INVALID_ARG_VALUE');
    }
  });
});
