/**
 * DPoP proof JWTs (RFC 9449 §4): header `{ typ, alg, jwk }`, claims `jti`, `htm`, `htu`,
 * `iat`, and `ath`/`nonce` when they apply, signed with ES256.
 *
 * The header segment is built once per key; `ath` once per token. A proof costs one JSON
 * serialisation, one base64url pass and one `crypto.subtle.sign`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
 */
import { encode, encodeAscii } from './base64url.ts';
import {
  assertNumber,
  assertObject,
  assertOptionalString,
  assertSigningKeyPair,
  assertString,
  invalidType,
  invalidValue,
  tagOf,
} from './assert.ts';
import { exportPublicJwk } from './key.ts';

/** Options of {@link createProof}. */
export interface ProofOptions {
  /** The HTTP method of the request the proof goes with; upper-cased. */
  htm: string;
  /** The request's URL; the query and fragment are dropped (RFC 9449 §4.2). */
  htu: string | URL;
  /** The access token sent with the request; adds `ath`. */
  accessToken?: string | undefined;
  /** The server-provided nonce (`DPoP-Nonce`). */
  nonce?: string | undefined;
  /** Issued-at, in whole seconds since the epoch. Default: now. */
  iat?: number | undefined;
  /** Unique id. Default: 128 random bits, base64url. */
  jti?: string | undefined;
}

const SIGN: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const encoder = new TextEncoder();
// RFC 9110 §5.6.2 token characters: what a method name may be made of.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9449 §8.1: a nonce is NQCHAR, visible ASCII without `"` and `\`.
const NQCHAR = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

const headers = new WeakMap<CryptoKey, string>();
const athCache = new Map<string, string>();
const ATH_CACHE_SIZE = 16;

/** The base64url header segment for a key, built on first use. */
async function headerSegment(publicKey: CryptoKey): Promise<string> {
  let segment = headers.get(publicKey);
  if (segment === undefined) {
    const { kty, crv, x, y } = await exportPublicJwk(publicKey);
    segment = encodeAscii(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }));
    headers.set(publicKey, segment);
  }
  return segment;
}

/**
 * `ath`: base64url(SHA-256(ASCII access token)) (RFC 9449 §4.2). Recent tokens are remembered,
 * since a client sends the same token many times.
 */
export async function accessTokenHash(token: string): Promise<string> {
  let ath = athCache.get(token);
  if (ath === undefined) {
    ath = encode(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token))));
    if (athCache.size >= ATH_CACHE_SIZE) athCache.delete(athCache.keys().next().value!);
    athCache.set(token, ath);
  }
  return ath;
}

/** `htu`: the target URI without query and fragment (RFC 9449 §4.2). */
export function targetUri(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function parseHtu(value: unknown): URL {
  if (typeof value !== 'string' && tagOf(value) !== 'URL') throw invalidType('options.htu', 'a string or URL');
  try {
    const url = new URL(String(value));
    if (url.protocol === 'https:' || url.protocol === 'http:') return url;
  } catch {
    // fall through to the one message below
  }
  throw invalidValue('options.htu', 'must be an absolute http: or https: URL');
}

function randomJti(): string {
  return encode(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Creates a DPoP proof JWT for one request.
 *
 * @param keyPair the ECDSA P-256 key pair the token is (or will be) bound to.
 * @param options `htm` and `htu` of the request; `accessToken` adds `ath`; `nonce` from the server.
 * @returns the compact JWS to send in the `DPoP` header.
 * @example
 * const proof = await createProof(keyPair, { htm: 'GET', htu: 'https://api.example/x?y=1', accessToken });
 * await fetch(url, { headers: { authorization: `DPoP ${accessToken}`, dpop: proof } });
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
 */
export async function createProof(keyPair: CryptoKeyPair, options: ProofOptions): Promise<string> {
  assertSigningKeyPair(keyPair, 'keyPair');
  assertObject(options, 'options');
  const { htm, accessToken, nonce, iat, jti } = options;
  assertString(htm, 'options.htm');
  if (!TOKEN.test(htm)) throw invalidValue('options.htm', 'must be an HTTP method name');
  const htu = targetUri(parseHtu(options.htu));
  assertOptionalString(accessToken, 'options.accessToken');
  assertOptionalString(nonce, 'options.nonce');
  if (nonce !== undefined && !NQCHAR.test(nonce)) throw invalidValue('options.nonce', 'must be visible ASCII without quotes or backslashes (RFC 9449 §8.1)');
  assertNumber(iat, 'options.iat', { min: 0, integer: true });
  assertOptionalString(jti, 'options.jti');
  return signProof(keyPair, htm.toUpperCase(), htu, accessToken, nonce, iat, jti);
}

/**
 * The unchecked core of {@link createProof}, for callers inside the library that have already
 * validated and derived `htm` and `htu`.
 */
export async function signProof(
  keyPair: CryptoKeyPair,
  htm: string,
  htu: string,
  accessToken?: string,
  nonce?: string,
  iat?: number,
  jti?: string,
): Promise<string> {
  const [header, ath] = await Promise.all([
    headerSegment(keyPair.publicKey),
    accessToken === undefined ? undefined : accessTokenHash(accessToken),
  ]);
  const claims: Record<string, string | number> = {
    jti: jti ?? randomJti(),
    htm,
    htu,
    iat: iat ?? Math.floor(Date.now() / 1000),
  };
  if (ath !== undefined) claims.ath = ath;
  if (nonce !== undefined) claims.nonce = nonce;
  // JSON of ASCII values is ASCII; a caller-given jti may not be, so encode it as UTF-8 then.
  const json = JSON.stringify(claims);
  const payload = /^[\x00-\x7f]*$/.test(json) ? encodeAscii(json) : encode(encoder.encode(json));
  const input = `${header}.${payload}`;
  const signature = await crypto.subtle.sign(SIGN, keyPair.privateKey, encoder.encode(input));
  return `${input}.${encode(new Uint8Array(signature))}`;
}
