/**
 * Client authentication at the token endpoint: `client_secret_post`, `client_secret_basic`
 * (RFC 6749 §2.3.1), `private_key_jwt` (RFC 7523 §2.2, ES256) and `none`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
import { encode, encodeAscii, encodeText } from './base64url.ts';
import { assertOneOf, assertOptionalString, invalidType, invalidValue, isCryptoKey, isCryptoKeyPair } from './assert.ts';

export type AuthMethod = 'client_secret_post' | 'client_secret_basic' | 'private_key_jwt' | 'none';
export const AUTH_METHODS: readonly AuthMethod[] = ['client_secret_post', 'client_secret_basic', 'private_key_jwt', 'none'];

/** How a client proves who it is. */
export interface ClientAuthOptions {
  clientId: string;
  clientSecret?: string | undefined;
  /** Default `client_secret_post`, or `none` when there is no secret and no assertion key. */
  authMethod?: AuthMethod | undefined;
  /** For `private_key_jwt`: an ECDSA P-256 private key (or pair) registered with the server. */
  clientAssertionKey?: CryptoKey | CryptoKeyPair | undefined;
  /** For `private_key_jwt`: the `kid` of that key in the client's JWKS. */
  clientAssertionKid?: string | undefined;
}

export interface ClientAuth {
  method: AuthMethod;
  /** Values never to be shown in an error. */
  secrets: string[];
  /** Adds credentials to one attempt's form and headers. */
  apply(body: URLSearchParams, headers: Record<string, string>, audience: string, nowSeconds: number): Promise<void>;
}

/** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 asks before Base64. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** Checks the options (paths under `options.`) and returns the authentication to apply. */
export function clientAuth(options: ClientAuthOptions): ClientAuth {
  const { clientId, clientSecret, clientAssertionKey, clientAssertionKid } = options;
  assertOptionalString(clientSecret, 'options.clientSecret');
  assertOneOf(options.authMethod, 'options.authMethod', AUTH_METHODS);
  const method: AuthMethod = options.authMethod ?? (clientSecret !== undefined ? 'client_secret_post' : clientAssertionKey ? 'private_key_jwt' : 'none');
  if ((method === 'client_secret_post' || method === 'client_secret_basic') && clientSecret === undefined) {
    throw invalidValue('options.clientSecret', `is required with authMethod "${method}"`);
  }
  let signingKey: CryptoKey | undefined;
  if (method === 'private_key_jwt') {
    signingKey = isCryptoKeyPair(clientAssertionKey) ? clientAssertionKey.privateKey : clientAssertionKey;
    if (!isCryptoKey(signingKey) || signingKey.type !== 'private') {
      throw invalidType('options.clientAssertionKey', 'an ECDSA P-256 private CryptoKey or CryptoKeyPair (authMethod "private_key_jwt")');
    }
    const algorithm = signingKey.algorithm as EcKeyAlgorithm;
    if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') throw invalidValue('options.clientAssertionKey', 'must be an ECDSA P-256 key (ES256)');
    assertOptionalString(clientAssertionKid, 'options.clientAssertionKid');
  }
  return {
    method,
    secrets: clientSecret ? [clientSecret, formEncode(clientSecret)] : [],
    async apply(body, headers, audience, nowSeconds) {
      switch (method) {
        case 'client_secret_basic':
          headers.authorization = `Basic ${btoa(`${formEncode(clientId)}:${formEncode(clientSecret!)}`)}`;
          return;
        case 'client_secret_post':
          body.set('client_id', clientId);
          body.set('client_secret', clientSecret!);
          return;
        case 'none':
          body.set('client_id', clientId);
          return;
        case 'private_key_jwt': {
          // A fresh jti per attempt: a nonce retry must not replay the assertion (RFC 7523 §3).
          const header = encodeAscii(JSON.stringify(clientAssertionKid ? { alg: 'ES256', typ: 'JWT', kid: clientAssertionKid } : { alg: 'ES256', typ: 'JWT' }));
          const claims = encodeText(JSON.stringify({
            iss: clientId,
            sub: clientId,
            aud: audience,
            jti: encode(crypto.getRandomValues(new Uint8Array(16))),
            iat: nowSeconds,
            exp: nowSeconds + 60,
          }));
          const input = `${header}.${claims}`;
          const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, signingKey!, new TextEncoder().encode(input));
          body.set('client_id', clientId);
          body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
          body.set('client_assertion', `${input}.${encode(new Uint8Array(signature))}`);
          return;
        }
      }
    },
  };
}
