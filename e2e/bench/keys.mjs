// @ts-check
/**
 * Thumbprints, key import and key generation against jose's equivalents, each against the bare
 * WebCrypto call it cannot avoid (the floor): `digest` for a thumbprint, `importKey` for an
 * import, `generateKey` for a new pair.
 */
import * as jose from 'jose';
import { compare } from './measure.mjs';

const EC = { name: 'ECDSA', namedCurve: 'P-256' };

/**
 * @param {typeof import('../../dist/index.js')} lib
 * @param {Parameters<typeof compare>[2]} [options]
 */
export async function benchKeys(lib, options) {
  const keyPair = await lib.generateKeyPair({ extractable: true });
  const publicJwk = await lib.exportPublicJwk(keyPair);
  const thumbprintInput = new TextEncoder().encode(JSON.stringify({ crv: publicJwk.crv, kty: publicJwk.kty, x: publicJwk.x, y: publicJwk.y }));
  const privateJwk = await crypto.subtle.exportKey('jwk', keyPair.privateKey);
  const { kty, crv, x, y, d } = privateJwk;
  const jwk = { kty, crv, x, y, d };
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keyPair.privateKey));
  const pem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;

  const thumbprint = await compare(
    { name: '`crypto.subtle.digest` of the RFC 7638 input (floor)', run: () => crypto.subtle.digest('SHA-256', thumbprintInput) },
    [
      { name: 'dpop-fetch `calculateThumbprint(jwk)`', run: () => lib.calculateThumbprint(publicJwk) },
      { name: 'jose `calculateJwkThumbprint(jwk)`', run: () => jose.calculateJwkThumbprint(publicJwk) },
      { name: 'dpop-fetch `calculateThumbprint(keyPair)` (remembered per key)', run: () => lib.calculateThumbprint(keyPair) },
      { name: 'jose `calculateJwkThumbprint(publicKey)` (exports the key each time)', run: () => jose.calculateJwkThumbprint(keyPair.publicKey) },
    ],
    options,
  );

  const importPem = await compare(
    { name: '`crypto.subtle.importKey("pkcs8")`, private key only (floor)', run: () => crypto.subtle.importKey('pkcs8', pkcs8, EC, false, ['sign']) },
    [
      { name: 'dpop-fetch `importKeyPair(pem)`: checked key pair, private key non-extractable', run: () => lib.importKeyPair(pem) },
      { name: 'jose `importPKCS8(pem)`: private key only', run: () => jose.importPKCS8(pem, 'ES256') },
      {
        name: 'jose, same job: `importPKCS8` extractable + `exportJWK` + `importJWK` of the public part',
        run: async () => {
          const privateKey = /** @type {CryptoKey} */ (await jose.importPKCS8(pem, 'ES256', { extractable: true }));
          const { d: _, ...pub } = await jose.exportJWK(privateKey);
          return { privateKey, publicKey: await jose.importJWK(pub, 'ES256') };
        },
      },
    ],
    options,
  );

  const importJwk = await compare(
    { name: '`crypto.subtle.importKey("jwk")`, private key only (floor)', run: () => crypto.subtle.importKey('jwk', jwk, EC, false, ['sign']) },
    [
      { name: 'dpop-fetch `importKeyPair(jwk)`: checked key pair', run: () => lib.importKeyPair(jwk) },
      { name: 'jose `importJWK(jwk)`: private key only', run: () => jose.importJWK(jwk, 'ES256') },
      {
        name: 'jose, same job: `importJWK` of the private and of the public members',
        run: async () => ({ privateKey: await jose.importJWK(jwk, 'ES256'), publicKey: await jose.importJWK({ kty, crv, x, y }, 'ES256') }),
      },
    ],
    options,
  );

  const generate = await compare(
    { name: '`crypto.subtle.generateKey` (floor)', run: () => crypto.subtle.generateKey(EC, false, ['sign', 'verify']) },
    [
      { name: 'dpop-fetch `generateKeyPair()`', run: () => lib.generateKeyPair() },
      { name: 'jose `generateKeyPair("ES256")`', run: () => jose.generateKeyPair('ES256') },
    ],
    options,
  );

  return { thumbprint, importPem, importJwk, generate };
}
