import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, createPrivateKey, type KeyObject } from 'node:crypto';
import * as jose from 'jose';
import { calculateThumbprint, DPoPError, exportPublicJwk, generateKeyPair, importKeyPair } from '../../src/index.ts';
import { caught, verifyProof } from '../helpers.ts';
import { createProof } from '../../src/proof.ts';

function nodeP256() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, jwk: publicKey.export({ format: 'jwk' }) };
}

/** Every format importKeyPair accepts, each produced by node:crypto (OpenSSL), not by us. */
function formats(privateKey: KeyObject): Record<string, unknown> {
  const pkcs8Der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const sec1Der = privateKey.export({ format: 'der', type: 'sec1' });
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    'PKCS#8 PEM': privateKey.export({ format: 'pem', type: 'pkcs8' }),
    'SEC1 PEM': privateKey.export({ format: 'pem', type: 'sec1' }),
    'PKCS#8 DER Uint8Array': new Uint8Array(pkcs8Der),
    'PKCS#8 DER ArrayBuffer': pkcs8Der.buffer.slice(pkcs8Der.byteOffset, pkcs8Der.byteOffset + pkcs8Der.byteLength),
    'SEC1 DER Buffer': sec1Der,
    'private JWK': jwk,
    'private JWK without x and y': { kty: 'EC', crv: 'P-256', d: jwk.d },
    'private JWK as JSON text': JSON.stringify(jwk),
  };
}

async function cannotExport(key: CryptoKey) {
  for (const format of ['pkcs8', 'jwk'] as const) {
    await expect(crypto.subtle.exportKey(format, key)).rejects.toBeDefined();
  }
}

describe('generateKeyPair', () => {
  it('makes an ECDSA P-256 pair whose private key cannot be exported', async () => {
    const { privateKey, publicKey } = await generateKeyPair();
    expect(privateKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    expect(privateKey.extractable).toBe(false);
    expect(publicKey.extractable).toBe(true);
    await cannotExport(privateKey);
  });

  it('makes an exportable private key only when asked', async () => {
    const { privateKey } = await generateKeyPair({ extractable: true });
    expect((await crypto.subtle.exportKey('jwk', privateKey)).d).toBeTypeOf('string');
  });

  it('checks its options', async () => {
    expect((await caught(() => generateKeyPair({ extractable: 'yes' as never }))).message).toBe('"options.extractable" must be a boolean');
    expect((await caught(() => generateKeyPair(5 as never))).message).toBe('"options" must be an object');
    const pem = nodeP256().privateKey.export({ format: 'pem', type: 'pkcs8' });
    expect((await caught(() => importKeyPair(pem, 5 as never))).message).toBe('"options" must be an object');
    expect((await caught(() => importKeyPair(pem, { extractable: 'no' as never }))).message).toBe('"options.extractable" must be a boolean');
  });
});

describe('importKeyPair', () => {
  it('imports every format made by node:crypto to the same key (same thumbprint as the source)', async () => {
    for (let round = 0; round < 5; round++) {
      const source = nodeP256();
      const expected = await jose.calculateJwkThumbprint(source.jwk as jose.JWK);
      for (const [name, input] of Object.entries(formats(source.privateKey))) {
        const keyPair = await importKeyPair(input as never);
        expect(await calculateThumbprint(keyPair), name).toBe(expected);
        expect(await exportPublicJwk(keyPair), name).toEqual({ kty: 'EC', crv: 'P-256', x: source.jwk.x, y: source.jwk.y });
        expect(keyPair.privateKey.extractable, name).toBe(false);
        expect([keyPair.publicKey.extractable, keyPair.publicKey.usages], name).toEqual([true, ['verify']]);
        await cannotExport(keyPair.privateKey);
        // The imported pair really signs: jose verifies a proof with the source's public key.
        const proof = await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/' });
        await verifyProof(proof);
        await jose.compactVerify(proof, source.publicKey);
      }
    }
  });

  it('keeps the private key exportable only when asked', async () => {
    const source = nodeP256();
    const pem = source.privateKey.export({ format: 'pem', type: 'pkcs8' });
    const keyPair = await importKeyPair(pem, { extractable: true });
    expect((await crypto.subtle.exportKey('jwk', keyPair.privateKey)).d).toBe(source.privateKey.export({ format: 'jwk' }).d);
  });

  it('finds the key after an EC PARAMETERS block, as `openssl ecparam -genkey` writes it', async () => {
    const sec1 = nodeP256().privateKey.export({ format: 'pem', type: 'sec1' }) as string;
    const params = '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n';
    await expect(importKeyPair(params + sec1)).resolves.toBeDefined();
  });

  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  const k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
  const ed25519 = generateKeyPairSync('ed25519').privateKey;
  const p256 = nodeP256();
  const p256Pem = p256.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const p256Jwk = p256.privateKey.export({ format: 'jwk' });
  const other = nodeP256().jwk;

  const bad: Array<[string, unknown, RegExp]> = [
    ['empty string', '', /not PEM, DER or a JWK/],
    ['garbage text', 'hello world', /not PEM, DER or a JWK/],
    ['truncated PEM (no END line)', p256Pem.slice(0, 80), /truncated/],
    ['PEM with a cut body', p256Pem.slice(0, 60) + '\n-----END PRIVATE KEY-----', /not DER|truncated|corrupt/],
    ['PEM with a non-base64 body', '-----BEGIN PRIVATE KEY-----\n%%%%\n-----END PRIVATE KEY-----', /not valid base64/],
    ['empty bytes', new Uint8Array(), /not DER/],
    ['random bytes', crypto.getRandomValues(new Uint8Array(64)), /not DER|not a PKCS#8/],
    ['RSA PKCS#8 PEM', rsa.export({ format: 'pem', type: 'pkcs8' }), /an RSA key/],
    ['RSA PKCS#1 PEM', rsa.export({ format: 'pem', type: 'pkcs1' }), /an RSA private key/],
    ['RSA PKCS#1 DER', rsa.export({ format: 'der', type: 'pkcs1' }), /an RSA private key \(PKCS#1\)/],
    ['RSA JWK', rsa.export({ format: 'jwk' }), /kty "RSA"/],
    ['P-384 PKCS#8', p384.export({ format: 'pem', type: 'pkcs8' }), /P-384, not P-256/],
    ['P-384 SEC1', p384.export({ format: 'pem', type: 'sec1' }), /P-384, not P-256/],
    ['P-384 JWK', p384.export({ format: 'jwk' }), /P-384, not P-256/],
    ['secp256k1 SEC1', k256.export({ format: 'pem', type: 'sec1' }), /secp256k1, not P-256/],
    ['Ed25519 PKCS#8', ed25519.export({ format: 'pem', type: 'pkcs8' }), /an Ed25519 key/],
    ['public PEM', p256.publicKey.export({ format: 'pem', type: 'spki' }), /public key/],
    ['public DER', p256.publicKey.export({ format: 'der', type: 'spki' }), /public key/],
    ['public JWK', p256.jwk, /public JWK/],
    ['JWK whose x,y belong to another key', { ...p256Jwk, x: other.x, y: other.y }, /does not belong/],
    ['JWK with a short d', { ...p256Jwk, d: 'AAAA' }, /not 32 bytes/],
    ['JWK with d = 0', { kty: 'EC', crv: 'P-256', d: 'A'.repeat(43) }, /not a valid P-256 private key/],
    ['broken JSON text', '{"kty":"EC",', /not valid JSON/],
    [
      'encrypted PKCS#8',
      p256.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-128-cbc', passphrase: 'pw' }),
      /encrypted/,
    ],
  ];

  for (const [name, input, message] of bad) {
    it(`refuses ${name} with ERR_KEY_IMPORT`, async () => {
      const err = await caught(() => importKeyPair(input as never));
      expect(err).toBeInstanceOf(DPoPError);
      expect(err.code).toBe('ERR_KEY_IMPORT');
      expect(err.message).toMatch(message);
      // The message never echoes key material.
      expect(err.message).not.toContain(p256Jwk.d);
      expect(err.message).not.toMatch(/MII|BEGIN/);
    });
  }

  it('checks a public point stored with the key, compressed or not', async () => {
    const source = nodeP256();
    const jwk = source.privateKey.export({ format: 'jwk' });
    const [d, x, y] = [jwk.d!, jwk.x!, jwk.y!].map((v) => Buffer.from(v, 'base64url'));
    // SEC1 ECPrivateKey by hand: version 1, d, [0] prime256v1, [1] BIT STRING point.
    const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag, body.length]), body]);
    const sec1 = (point: Buffer) =>
      tlv(0x30, Buffer.concat([
        tlv(0x02, Buffer.from([1])),
        tlv(0x04, d!),
        tlv(0xa0, tlv(0x06, Buffer.from('2a8648ce3d030107', 'hex'))),
        tlv(0xa1, tlv(0x03, Buffer.concat([Buffer.from([0]), point]))),
      ]));
    const parity = y![31]! & 1;
    const expected = await jose.calculateJwkThumbprint(source.jwk as jose.JWK);
    const good = await importKeyPair(sec1(Buffer.concat([Buffer.from([2 + parity]), x!])));
    expect(await calculateThumbprint(good)).toBe(expected);
    const wrongParity = await caught(() => importKeyPair(sec1(Buffer.concat([Buffer.from([3 - parity]), x!]))));
    expect(wrongParity.message).toMatch(/does not belong/);
    const badPrefix = await caught(() => importKeyPair(sec1(Buffer.concat([Buffer.from([5]), x!, y!]))));
    expect(badPrefix.code).toBe('ERR_KEY_IMPORT');
    expect(badPrefix.message).toMatch(/malformed/);
    const otherX = Buffer.from(x!); otherX[0]! ^= 1;
    expect((await caught(() => importKeyPair(sec1(Buffer.concat([Buffer.from([4]), otherX, y!]))))).message).toMatch(/does not belong/);
  });

  it('reads JWK text with whitespace around it, and DER bytes that start inside a larger buffer', async () => {
    const source = nodeP256();
    const expected = await jose.calculateJwkThumbprint(source.jwk as jose.JWK);
    expect(await calculateThumbprint(await importKeyPair(`\n  ${JSON.stringify(source.privateKey.export({ format: 'jwk' }))}\n`))).toBe(expected);
    const der = source.privateKey.export({ format: 'der', type: 'pkcs8' });
    const larger = new Uint8Array(der.length + 16).fill(0x30);
    larger.set(der, 7);
    for (const view of [new Uint8Array(larger.buffer, 7, der.length), new DataView(larger.buffer, 7, der.length)]) {
      expect(await calculateThumbprint(await importKeyPair(view))).toBe(expected);
    }
    expect((await caught(() => importKeyPair(der, { password: 5 as never }))).message).toBe('"options.password" must be a string');
  });

  it('refuses wrong argument types with ERR_INVALID_ARG_TYPE', async () => {
    for (const input of [undefined, null, 42, true, [1, 2]]) {
      const err = await caught(() => importKeyPair(input as never));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
      expect(err.message).toBe('"key" must be a PEM string, DER bytes (ArrayBuffer or Uint8Array) or a private JWK object');
    }
  });
});

describe('exportPublicJwk', () => {
  it('returns the public members only, equal to what WebCrypto exports', async () => {
    const keyPair = await generateKeyPair();
    const jwk = await exportPublicJwk(keyPair);
    expect(Object.keys(jwk)).toEqual(['kty', 'crv', 'x', 'y']);
    const full = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
    expect(jwk).toEqual({ kty: 'EC', crv: 'P-256', x: full.x, y: full.y });
    expect(await exportPublicJwk(keyPair.publicKey)).toEqual(jwk);
  });

  it('hands out a copy: a caller adding kid or use changes neither later exports nor proof headers', async () => {
    for (const order of ['export first', 'proof first']) {
      const keyPair = await generateKeyPair();
      if (order === 'proof first') await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/x' });
      const published = (await exportPublicJwk(keyPair)) as Record<string, unknown>;
      published.kid = 'key-1';
      published.use = 'sig';
      (await exportPublicJwk(keyPair.publicKey) as Record<string, unknown>).alg = 'ES256';
      expect(Object.keys(await exportPublicJwk(keyPair)), order).toEqual(['kty', 'crv', 'x', 'y']);
      const proof = await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/x' });
      const header = jose.decodeProtectedHeader(proof);
      expect(Object.keys(header.jwk!).sort(), order).toEqual(['crv', 'kty', 'x', 'y']);
      await jose.compactVerify(proof, await jose.importJWK(header.jwk!, 'ES256'));
    }
  });

  it('refuses private keys and non-keys', async () => {
    const keyPair = await generateKeyPair();
    expect(await caught(() => exportPublicJwk(keyPair.privateKey))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"key" must be a CryptoKeyPair or a public CryptoKey (not a private key)' });
    expect(await caught(() => exportPublicJwk({} as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"key" must be a CryptoKeyPair or a public CryptoKey' });
    // Public keys of another curve or algorithm, made by node:crypto.
    for (const [name, curve] of [['ECDSA', 'P-384'], ['ECDH', 'P-256']] as const) {
      const other = generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ format: 'jwk' });
      const key = await crypto.subtle.importKey('jwk', other, { name, namedCurve: curve }, true, name === 'ECDSA' ? ['verify'] : []);
      expect(await caught(() => exportPublicJwk(key)), `${name} ${curve}`).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"key" must be an ECDSA P-256 key' });
    }
  });
});
