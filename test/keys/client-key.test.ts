// importClientKey (src/keys/client-key.ts): the keys identity providers hand out for
// private_key_jwt, made here by node:crypto (OpenSSL), imported, and judged by jose and
// node:crypto: the public key must be the source's, and signatures must verify with it.
import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateThumbprint, importClientKey } from '../../src/index.ts';
import { caught } from '../helpers.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** Every form an RSA private key comes in, each written by node:crypto. */
function rsaForms(privateKey: KeyObject): Record<string, unknown> {
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    'PKCS#8 PEM': privateKey.export({ format: 'pem', type: 'pkcs8' }),
    'PKCS#1 PEM (BEGIN RSA PRIVATE KEY)': privateKey.export({ format: 'pem', type: 'pkcs1' }),
    'PKCS#8 DER': new Uint8Array(pkcs8),
    'PKCS#1 DER': privateKey.export({ format: 'der', type: 'pkcs1' }),
    'PKCS#8 DER ArrayBuffer': pkcs8.buffer.slice(pkcs8.byteOffset, pkcs8.byteOffset + pkcs8.byteLength),
    'private JWK': privateKey.export({ format: 'jwk' }),
    'private JWK as JSON text, with alg and key_ops': JSON.stringify({ ...privateKey.export({ format: 'jwk' }), alg: 'RS256', key_ops: ['sign'] }),
  };
}

async function signs(keyPair: CryptoKeyPair, alg: string, publicKey: KeyObject) {
  const jwt = await new jose.SignJWT({ sub: 'svc' }).setProtectedHeader({ alg }).sign(keyPair.privateKey);
  await jose.jwtVerify(jwt, publicKey, { algorithms: [alg] });
}

describe('importClientKey', () => {
  it('imports an RSA key in every form for RS256 by default: the same public key, a non-extractable private key that signs', async () => {
    const expected = rsa.publicKey.export({ format: 'jwk' });
    for (const [form, input] of Object.entries(rsaForms(rsa.privateKey))) {
      const pair = await importClientKey(input as never);
      expect(pair.privateKey.algorithm, form).toMatchObject({ name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' }, modulusLength: 2048 });
      expect(pair.privateKey.extractable, form).toBe(false);
      await expect(crypto.subtle.exportKey('pkcs8', pair.privateKey)).rejects.toBeDefined();
      const { n, e } = await crypto.subtle.exportKey('jwk', pair.publicKey);
      expect({ n, e }, form).toEqual({ n: expected.n, e: expected.e });
      await signs(pair, 'RS256', rsa.publicKey);
    }
  });

  it('imports the same key for PS256, RS512 or PS384 when asked', async () => {
    const pem = rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string;
    for (const alg of ['PS256', 'RS512', 'PS384'] as const) {
      const pair = await importClientKey(pem, { alg });
      expect(pair.privateKey.algorithm.name).toBe(alg[0] === 'P' ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5');
      await signs(pair, alg, rsa.publicKey);
    }
  });

  it('imports a P-256 key for ES256 (PEM or JWK), with the thumbprint jose computes', async () => {
    const expected = await jose.calculateJwkThumbprint(ec.publicKey.export({ format: 'jwk' }) as jose.JWK);
    for (const input of [ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, ec.privateKey.export({ format: 'pem', type: 'sec1' }) as string, ec.privateKey.export({ format: 'jwk' })]) {
      const pair = await importClientKey(input, { alg: 'ES256' });
      expect(await calculateThumbprint(pair)).toBe(expected);
      await signs(pair, 'ES256', ec.publicKey);
    }
  });

  it('keeps the private key exportable only when asked', async () => {
    const pair = await importClientKey(rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { extractable: true });
    expect((await crypto.subtle.exportKey('jwk', pair.privateKey)).d).toBe(rsa.privateKey.export({ format: 'jwk' }).d);
  });

  it('refuses what cannot sign the algorithm asked for, saying what to do', async () => {
    const rsaPem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const ecPem = ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const message = async (input: string, options?: Parameters<typeof importClientKey>[1]) => {
      const err = await caught(() => importClientKey(input, options));
      expect(err.code).toBe('ERR_KEY_IMPORT');
      return err.message;
    };
    expect(await message(rsaPem, { alg: 'ES256' })).toBe('Cannot import the client key: an RSA key cannot sign ES256. Use alg RS256 or PS256, or give an EC P-256 key.');
    expect(await message(ecPem, { alg: 'PS256' })).toBe('Cannot import the client key: an EC key cannot sign PS256. Use alg ES256, or give an RSA key.');
    expect(await message(small)).toBe('Cannot import the client key: an RSA key of 1024 bits; RFC 7518 §3.3 asks for 2048 or more. Make a new key, e.g. `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`.');
    expect(await message(ed)).toMatch(/^Cannot import the client key: a key of algorithm 1\.3\.101\.112\. Give an RSA key/);
    expect(await message(p384)).toMatch(/^Cannot import the client key: an EC key on P-384, not P-256\. ES256 needs an EC P-256 private key/);
    expect(await message(rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string)).toBe('Cannot import the client key: a public key or a certificate. Give the private key.');
    expect(await message('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----')).toBe('Cannot import the client key: the data is not a private key in PEM, DER or JWK form. Give the PEM file your identity provider made.');
    expect(await message('not a key')).toMatch(/^Cannot import the key: the text is not PEM/);
  });

  it('checks its arguments', async () => {
    expect(await caught(() => importClientKey(42 as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"key" must be a PEM string, DER bytes (ArrayBuffer or Uint8Array) or a private JWK object' });
    expect(await caught(() => importClientKey(rsa.privateKey.export({ format: 'jwk' }), { alg: 'HS256' as never }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.alg" must be one of "ES256", "RS256"') });
    expect(await caught(() => importClientKey(rsa.privateKey.export({ format: 'jwk' }), { password: 5 as never }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.password" must be a string' });
  });
});
