/**
 * JWK thumbprints (RFC 7638): the SHA-256 of the required members, in lexicographic order,
 * as JSON without whitespace, base64url-encoded. This is the `jkt` an authorization server
 * binds a DPoP token to.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3
 */
import { encode } from '../base64url.ts';
import { invalidType, invalidValue, isCryptoKey, isCryptoKeyPair, isObject } from '../assert.ts';
import { exportPublicJwk } from './key.ts';

// RFC 7638 §3.2: the required members of each key type, already in lexicographic order.
const REQUIRED: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
  oct: ['k', 'kty'],
};

const byKey = new WeakMap<CryptoKey, string>();

/** The RFC 7638 input string of a JWK: its required members only, in order. */
export function thumbprintInput(jwk: Record<string, unknown>, path = 'key'): string {
  // Own members only: a kty named "constructor" or "__proto__" is no key type.
  const members = typeof jwk.kty === 'string' && Object.hasOwn(REQUIRED, jwk.kty) ? REQUIRED[jwk.kty] : undefined;
  if (!members) throw invalidValue(`${path}.kty`, 'must be one of "EC", "RSA", "OKP", "oct"');
  const parts: string[] = [];
  for (const name of members) {
    const value = jwk[name];
    if (typeof value !== 'string' || value === '') throw invalidValue(`${path}.${name}`, 'must be a non-empty string');
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(value)}`);
  }
  return `{${parts.join(',')}}`;
}

const encoder = new TextEncoder();

async function sha256(text: string): Promise<string> {
  return encode(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text))));
}

/**
 * The RFC 7638 SHA-256 thumbprint of a key pair, a public CryptoKey or a JWK, base64url.
 *
 * Computed once per CryptoKey and remembered.
 *
 * @param key a CryptoKeyPair, a public CryptoKey, or a JWK (EC, RSA, OKP or oct).
 * @example
 * const jkt = await calculateThumbprint(keyPair); // equals the token's cnf.jkt
 * @see https://www.rfc-editor.org/rfc/rfc7638
 */
export async function calculateThumbprint(key: CryptoKeyPair | CryptoKey | JsonWebKey): Promise<string> {
  if (isCryptoKeyPair(key) || isCryptoKey(key)) {
    const publicKey = isCryptoKeyPair(key) ? key.publicKey : key;
    const cached = byKey.get(publicKey);
    if (cached) return cached;
    const thumbprint = await sha256(thumbprintInput({ ...(await exportPublicJwk(publicKey)) }));
    byKey.set(publicKey, thumbprint);
    return thumbprint;
  }
  if (!isObject(key) || Array.isArray(key)) throw invalidType('key', 'a CryptoKeyPair, a public CryptoKey or a JWK object');
  return sha256(thumbprintInput(key as Record<string, unknown>));
}
