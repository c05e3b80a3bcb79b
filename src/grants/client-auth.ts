/**
 * Client authentication at the token endpoint: `client_secret_post`, `client_secret_basic`
 * (RFC 6749 §2.3.1), `private_key_jwt` (RFC 7523 §2.2; ES256, or RS256/PS256 for the RSA keys
 * that Okta's console makes and Auth0 demands, RFC 7518 §3) and `none`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
import { encode, encodeText } from '../base64url.ts';
import { assertOneOf, assertOptionalString, assertString, invalidType, invalidValue, isCryptoKey, isCryptoKeyPair } from '../assert.ts';
import type { AssertionAlg } from '../keys/client-key.ts';

export type AuthMethod = 'client_secret_post' | 'client_secret_basic' | 'private_key_jwt' | 'none';
export const AUTH_METHODS: readonly AuthMethod[] = ['client_secret_post', 'client_secret_basic', 'private_key_jwt', 'none'];

/** How a client proves who it is. */
export interface ClientAuthOptions {
  clientId: string;
  /** For `client_secret_post` and `client_secret_basic`. */
  clientSecret?: string | undefined;
  /**
   * Default: `client_secret_post` with a `clientSecret`, `private_key_jwt` with a
   * `clientAssertionKey`, otherwise `none` (a public client such as an SPA).
   */
  authMethod?: AuthMethod | undefined;
  /**
   * For `private_key_jwt`: a private key (or pair) registered with the server, not the DPoP key:
   * ECDSA P-256 (ES256), RSASSA-PKCS1-v1_5 (RS256/384/512) or RSA-PSS (PS256/384/512) of at
   * least 2048 bits. The assertion's algorithm follows from the key (`importClientKey` makes
   * one from a PEM for the algorithm you name).
   */
  clientAssertionKey?: CryptoKey | CryptoKeyPair | undefined;
  /** For `private_key_jwt`: the algorithm the server expects; checked against the key, so a mismatch fails before any request. */
  clientAssertionAlg?: AssertionAlg | undefined;
  /** For `private_key_jwt`: the `kid` of that key in the client's JWKS. */
  clientAssertionKid?: string | undefined;
  /**
   * The authorization server's issuer identifier, exactly as in its metadata. With
   * `private_key_jwt` it becomes the assertion's `aud`, the one value RFC 7523bis and FAPI 2.0
   * servers accept. Without it the `aud` is the token endpoint URL (RFC 7523 §3).
   */
  issuer?: string | undefined;
  /** For `private_key_jwt`: an explicit `aud`, for servers that want something else again. */
  clientAssertionAudience?: string | undefined;
}

export interface ClientAuth {
  method: AuthMethod;
  /** Values never to be shown in an error. */
  secrets: string[];
  /** Whether a corrected clock can turn a refusal into a success (a signed, timed assertion). */
  timeBound: boolean;
  /** What to check when the server answers `invalid_client`. */
  advice: string;
  /** Adds credentials to one attempt's form and headers; a new assertion every call. */
  apply(body: URLSearchParams, headers: Record<string, string>, nowSeconds: number): Promise<void>;
}

/** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 asks before Base64. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** A secret as it may come back in server text: raw, and form-encoded as it was sent. */
export function secretForms(secret: string): string[] {
  return [secret, formEncode(secret)];
}

/**
 * Checks the options (paths under `options.`) and returns the authentication to apply.
 *
 * @param tokenEndpoint the default `aud` of assertions when no issuer is given.
 */
export function clientAuth(options: ClientAuthOptions, tokenEndpoint: URL): ClientAuth {
  const { clientId, clientSecret, clientAssertionKey: given, clientAssertionKid: kid, issuer, clientAssertionAudience } = options;
  assertString(clientId, 'options.clientId');
  assertOptionalString(clientSecret, 'options.clientSecret');
  assertOneOf(options.authMethod, 'options.authMethod', AUTH_METHODS);
  const method: AuthMethod = options.authMethod ?? (clientSecret !== undefined ? 'client_secret_post' : given ? 'private_key_jwt' : 'none');
  const jwt = method === 'private_key_jwt';
  const usesSecret = method.startsWith('client_secret');
  // One credential per client: a secret sent alongside an assertion, or by a public client,
  // would be a secret sent for nothing.
  if (usesSecret !== (clientSecret !== undefined)) {
    throw invalidValue('options.clientSecret', usesSecret ? `is required with authMethod "${method}"` : `is not used with authMethod "${method}"; remove it`);
  }
  if (!jwt && given !== undefined) throw invalidValue('options.clientAssertionKey', `is not used with authMethod "${method}"; remove it or use "private_key_jwt"`);
  assertOptionalString(issuer, 'options.issuer');
  assertOptionalString(clientAssertionAudience, 'options.clientAssertionAudience');

  let key: unknown;
  let alg: string | false | undefined;
  if (jwt) {
    key = isCryptoKeyPair(given) ? given.privateKey : given;
    if (!isCryptoKey(key) || key.type !== 'private') throw invalidType('options.clientAssertionKey', 'a private CryptoKey or CryptoKeyPair');
    const { name, namedCurve, hash } = key.algorithm as EcKeyAlgorithm & RsaHashedKeyAlgorithm;
    // RFC 7518 §3: an RSA key carries its hash; PS signs with a salt as long as the hash. Any
    // other key that can sign (Ed25519, a P-384 or SHA-1 key) makes no alg ending in 3 digits.
    // RSA keys under 2048 bits (§3.3) are refused by importClientKey and by servers.
    const bits = hash?.name.slice(4);
    alg = name === 'ECDSA' ? namedCurve === 'P-256' && 'ES256' : (name[3] === 'S' ? 'RS' : 'PS') + bits;
    if (!/\d{3}$/.test(alg as string) || !key.usages.includes('sign')) throw invalidValue('options.clientAssertionKey', 'must be a P-256 or RSA signing key');
    if (options.clientAssertionAlg && options.clientAssertionAlg !== alg) throw invalidValue('options.clientAssertionAlg', `must be ${alg}, what the key signs`);
    assertOptionalString(kid, 'options.clientAssertionKid');
  }

  return {
    method,
    secrets: clientSecret ? secretForms(clientSecret) : [],
    timeBound: jwt,
    advice: jwt ? `Check that the server has clientAssertionKey's public key for ${alg}.` : 'Check clientId, clientSecret and authMethod.',
    async apply(body, headers, now) {
      if (method === 'client_secret_basic') {
        headers.authorization = `Basic ${btoa(`${formEncode(clientId)}:${formEncode(clientSecret!)}`)}`;
        return;
      }
      body.set('client_id', clientId);
      if (clientSecret) body.set('client_secret', clientSecret);
      if (jwt) {
        // The issuer as given, never re-serialised: `new URL(issuer).href` adds a trailing slash
        // to a bare origin, and servers compare `aud` as an exact string.
        const aud = clientAssertionAudience ?? issuer ?? tokenEndpoint.href;
        await (await import('./assertion.ts')).addAssertion(body, { key: key as CryptoKey, alg: alg as string, kid, clientId, aud, now, encode, encodeText });
      }
    },
  };
}
