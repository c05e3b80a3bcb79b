/**
 * The `private_key_jwt` client assertion (RFC 7523 §3), made for every attempt: `iss` = `sub`
 * = the client, `aud`, a fresh `jti`, `iat`, `exp` 60 s later, signed with the client's key by
 * the algorithm client-auth.ts derived from it (RFC 7518 §3). Loaded lazily: only clients that
 * authenticate with a key load it, so it is not on the core path.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
import type { encode as Encode, encodeText as EncodeText } from '../base64url.ts';

// Long enough for a slow network, short enough that a leaked assertion is soon useless; the
// server also refuses a replayed jti (RFC 7523 §3, item 7).
const ASSERTION_LIFETIME_S = 60;

/** What an assertion says and who signs it. */
export interface Assertion {
  key: CryptoKey;
  /** ES256, RS256, PS384, …: what the key signs. */
  alg: string;
  kid: string | undefined;
  clientId: string;
  aud: string;
  /** `iat`, in seconds, by the token endpoint's clock. */
  now: number;
  /**
   * base64url.ts's encoders, handed over by the caller: a module imported both here and on the
   * core path would be split by bundlers into a chunk of its own, which costs the core path
   * more than this whole file saves it.
   */
  encode: typeof Encode;
  encodeText: typeof EncodeText;
}

/** Sets `client_assertion_type` and a newly signed `client_assertion` on a token request's form. */
export async function addAssertion(body: URLSearchParams, { key, alg, kid, clientId, aud, now, encode, encodeText }: Assertion): Promise<void> {
  // A fresh jti per attempt: a nonce retry must not replay the assertion (RFC 7523 §3).
  const input = `${encodeText(JSON.stringify({ alg, typ: 'JWT', kid }))}.${encodeText(JSON.stringify({ iss: clientId, sub: clientId, aud, jti: encode(crypto.getRandomValues(new Uint8Array(16))), iat: now, exp: now + ASSERTION_LIFETIME_S }))}`;
  // ECDSA takes the hash here; an RSA key carries its own; RSA-PSS salts as long as the hash.
  const bits = +alg.slice(2);
  const signature = await crypto.subtle.sign({ name: key.algorithm.name, hash: `SHA-${bits}`, saltLength: bits / 8 } as AlgorithmIdentifier, key, new TextEncoder().encode(input));
  body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  body.set('client_assertion', `${input}.${encode(new Uint8Array(signature))}`);
}
