/**
 * DPoP proof JWTs (RFC 9449 §4): header `{ typ, alg, jwk }`, claims `jti`, `htm`, `htu`,
 * `iat`, and `ath`/`nonce` when they apply, signed with ES256.
 *
 * A proof is signed on every request, so its cost is kept at the floor of
 * `crypto.subtle.sign` (`npm run bench` measures it): the header segment is built once per
 * key and `ath` once per token, both looked up without an await; the claims are one template
 * string. createProof checks a key pair once and remembers the `htu` of recent URLs: together
 * they keep it about 3% nearer the floor (1.10× against 1.14× without, npm run bench). The
 * signing input is encoded afresh each time: a slab saved 0.4 µs of a 60 µs proof, below what
 * the benchmark can see, for 70 bytes of every browser bundle (issue 7).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
 */
import { encode, encodeAscii, encodeText } from './base64url.ts';
import {
  assertNumber,
  assertObject,
  assertOptionalString,
  assertSigningKeyPair,
  assertString,
  invalidValue,
  parseHttpUrl,
} from './assert.ts';
import { publicJwkOf } from './keys/key.ts';

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
  /** Issued-at, in whole seconds since the epoch. Default: one second ago, which no server refuses as in its future. */
  iat?: number | undefined;
  /** Unique id. Default: a random UUID (122 random bits). */
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
// createProof's own shortcuts: a CryptoKey's type, algorithm and usages never change, so a
// pair passes its check once; and a client proves the same few URLs over and over.
const checkedPairs = new WeakMap<CryptoKey, CryptoKey>();
const htuCache = new Map<string, string>();
const HTU_CACHE_SIZE = 64;
/** The base64url header segment for a key, built on first use. */
async function headerSegment(publicKey: CryptoKey): Promise<string> {
  // Only the public members go in (RFC 9449 §4.2): key.ts exports exactly those, once per key.
  const segment = encodeAscii(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: await publicJwkOf(publicKey) }));
  headers.set(publicKey, segment);
  return segment;
}

/**
 * `ath`: base64url(SHA-256(ASCII access token)) (RFC 9449 §4.2), remembered for the next proofs
 * (a client sends the same token many times), which look it up before they call this.
 */
async function accessTokenHash(token: string): Promise<string> {
  const ath = encode(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token))));
  if (athCache.size >= ATH_CACHE_SIZE) athCache.clear();
  athCache.set(token, ath);
  return ath;
}

/** `htu`: the target URI without query and fragment (RFC 9449 §4.2). */
export function targetUri(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
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
  const pair = keyPair as Partial<CryptoKeyPair> | null | undefined;
  if (pair?.publicKey === undefined || checkedPairs.get(pair.privateKey!) !== pair.publicKey) {
    assertSigningKeyPair(keyPair, 'keyPair');
    checkedPairs.set(keyPair.privateKey, keyPair.publicKey);
  }
  assertObject(options, 'options');
  const { htm, htu: url, accessToken, nonce, iat, jti } = options;
  assertString(htm, 'options.htm');
  if (!TOKEN.test(htm)) throw invalidValue('options.htm', 'must be an HTTP method name');
  let htu = htuCache.get(url as string); // only strings are ever stored: a URL object can change
  if (htu === undefined) {
    htu = targetUri(parseHttpUrl(url, 'options.htu'));
    if (typeof url === 'string') {
      if (htuCache.size >= HTU_CACHE_SIZE) htuCache.clear();
      htuCache.set(url, htu);
    }
  }
  assertOptionalString(accessToken, 'options.accessToken');
  assertOptionalString(nonce, 'options.nonce');
  if (nonce !== undefined && !NQCHAR.test(nonce)) throw invalidValue('options.nonce', 'must be visible ASCII without quotes or backslashes (RFC 9449 §8.1)');
  assertNumber(iat, 'options.iat', { min: 0, integer: true });
  assertOptionalString(jti, 'options.jti');
  return signProof(keyPair, htm.toUpperCase(), htu, accessToken, nonce, iat, jti);
}

/**
 * The unchecked core of {@link createProof}, for callers inside the library that have already
 * validated and derived its inputs: `htm` an HTTP token, `htu` a target URI, `nonce` NQCHAR.
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
  const header = headers.get(keyPair.publicKey) ?? (await headerSegment(keyPair.publicKey));
  const ath = accessToken === undefined ? undefined : (athCache.get(accessToken) ?? (await accessTokenHash(accessToken)));
  // The claims as one template: htm (a token), our jti (a UUID), ath (base64url) and the
  // nonce (NQCHAR) need no escaping; htu (a host may hold `"`) and a caller's jti are quoted
  // by JSON.stringify. Everything is then ASCII, except perhaps a caller's jti.
  const claims = `{"jti":${jti === undefined ? `"${crypto.randomUUID()}"` : JSON.stringify(jti)},"htm":"${htm}","htu":${JSON.stringify(htu)},"iat":${iat ?? Math.floor(Date.now() / 1000) - 1}${ath === undefined ? '' : `,"ath":"${ath}"`}${nonce === undefined ? '' : `,"nonce":"${nonce}"`}}`;
  const input = `${header}.${jti === undefined ? encodeAscii(claims) : encodeText(claims)}`;
  const signature = await crypto.subtle.sign(SIGN, keyPair.privateKey, encoder.encode(input));
  return `${input}.${encode(new Uint8Array(signature))}`;
}
