// importClientKey (src/keys/client-key.ts) at its edges: JSON text with space around it, text that
// is no JSON, DER that is neither PKCS#8 nor PKCS#1, an encrypted key without options, RSA data
// that WebCrypto refuses, an EC key's refusal passed on, and the key pair's uses. The keys are
// node:crypto's (OpenSSL); signatures are checked by jose with node's public key.
import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { importClientKey } from '../../src/index.ts';
import { caught } from '../helpers.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const refusal = async (input: unknown, options?: Parameters<typeof importClientKey>[1]) => {
  const err = await caught(() => importClientKey(input as never, options));
  expect(err.code).toBe('ERR_KEY_IMPORT');
  return err;
};

describe('importClientKey: inputs at the edges', () => {
  it('a JWK as JSON text with white space before it is read as JSON; text that starts with "{" but is no JSON says so', async () => {
    const text = `\n  ${JSON.stringify(rsa.privateKey.export({ format: 'jwk' }))}\n`;
    const pair = await importClientKey(text);
    const jwt = await new jose.SignJWT({}).setProtectedHeader({ alg: 'RS256' }).sign(pair.privateKey);
    await jose.jwtVerify(jwt, rsa.publicKey, { algorithms: ['RS256'] });
    expect((await refusal('{"kty": "RSA", ')).message).toBe('Cannot import the client key: the text starts like JSON but is not valid JSON. Give a PEM string, DER bytes or a private JWK.');
  });

  it('DER whose first element is neither a version nor an algorithm (SEQUENCE { OCTET STRING, INTEGER }) is no private key', async () => {
    expect((await refusal(Uint8Array.from([0x30, 0x06, 0x04, 0x01, 0x00, 0x02, 0x01, 0x00]))).message).toBe(
      'Cannot import the client key: the data is not a private key in PEM, DER or JWK form. Give the PEM file your identity provider made.',
    );
  });

  it('an encrypted key without options asks for its password', async () => {
    const pem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    expect((await refusal(pem)).message).toBe('Cannot import the key: the key is encrypted. Give its password (options.password).');
    const pair = await importClientKey(pem, { password: 'pw' });
    await jose.jwtVerify(await new jose.SignJWT({}).setProtectedHeader({ alg: 'RS256' }).sign(pair.privateKey), rsa.publicKey);
  });

  it('RSA data WebCrypto cannot import (a JWK without its private members) is not a valid RSA private key', async () => {
    const { n, e } = rsa.publicKey.export({ format: 'jwk' });
    expect((await refusal({ kty: 'RSA', n, e })).message).toBe('Cannot import the client key: it is not a valid RSA private key. Give the PEM file your identity provider made.');
  });

  it('an EC key that importKeyPair refuses: the refusal speaks of the client key, and carries the original as its cause', async () => {
    const jwk = { ...ec.privateKey.export({ format: 'jwk' }), d: 'AAAA' };
    const err = await refusal(jwk, { alg: 'ES256' });
    expect(err.message).toMatch(/^Cannot import the client key: /);
    expect(err.cause).toMatchObject({ code: 'ERR_KEY_IMPORT', message: expect.stringMatching(/^Cannot import the key: /) });
  });

  it('an EC key is extractable only when asked, as an RSA key is; the public key verifies what the private key signs', async () => {
    const pem = ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect((await importClientKey(pem)).privateKey.extractable).toBe(false);
    const exportable = await importClientKey(pem, { extractable: true });
    expect((await crypto.subtle.exportKey('jwk', exportable.privateKey)).d).toBe(ec.privateKey.export({ format: 'jwk' }).d);
    for (const [pair, params] of [
      [await importClientKey(rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string), { name: 'RSASSA-PKCS1-v1_5' }],
      [await importClientKey(rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string, { alg: 'PS256' }), { name: 'RSA-PSS', saltLength: 32 }],
      [exportable, { name: 'ECDSA', hash: 'SHA-256' }],
    ] as const) {
      const data = new TextEncoder().encode('signed');
      const signature = await crypto.subtle.sign(params, pair.privateKey, data);
      expect(pair.publicKey.usages).toEqual(['verify']);
      expect(await crypto.subtle.verify(params, pair.publicKey, signature, data)).toBe(true);
    }
  });
});
