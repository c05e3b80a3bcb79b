/**
 * Key pairs for DPoP: generate, import from PEM/DER/JWK, export the public JWK.
 * Private keys leave here non-extractable unless the caller asks otherwise.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2 (ES256 is what we sign with)
 */
import { decode, encode } from '../base64url.ts';
import {
  assertBoolean,
  assertOptionalObject,
  invalidType,
  isCryptoKey,
  isCryptoKeyPair,
  isObject,
  tagOf,
} from '../assert.ts';
import { DPoPError } from '../errors.ts';
import { decryptPkcs8 } from './encrypted.ts';
import { fromDer, fromJwk, fromPem, type NormalizedKey } from './pkcs8.ts';

const ECDSA_P256: EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };

/** The public members of a P-256 JWK, and nothing else. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

/** Options for {@link generateKeyPair} and {@link importKeyPair}. */
export interface KeyOptions {
  /** Let the private key be exported later. Default `false`: it never leaves WebCrypto. */
  extractable?: boolean;
}

/** Options for {@link importKeyPair}. */
export interface ImportOptions extends KeyOptions {
  /** The password of an encrypted key (`BEGIN ENCRYPTED PRIVATE KEY`: PBES2, PBKDF2, AES-CBC). */
  password?: string | undefined;
}

/** A key in any form {@link importKeyPair} accepts. */
export type KeyInput = string | ArrayBuffer | ArrayBufferView | JsonWebKey;

// The public JWK of every key we have seen, so proofs and thumbprints never re-export it.
const publicJwks = new WeakMap<CryptoKey, PublicJwk>();

/**
 * Generates an ECDSA P-256 key pair for DPoP.
 *
 * @param options `extractable: true` lets the private key be exported (default: it cannot be).
 * @example
 * const keyPair = await generateKeyPair();
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
 */
export async function generateKeyPair(options?: KeyOptions): Promise<CryptoKeyPair> {
  assertOptionalObject(options, 'options');
  assertBoolean(options?.extractable, 'options.extractable');
  return crypto.subtle.generateKey(ECDSA_P256, options?.extractable ?? false, ['sign', 'verify']);
}

function normalize(key: unknown): NormalizedKey {
  if (typeof key === 'string') {
    const text = key.trim();
    if (text.startsWith('{')) {
      let jwk: unknown;
      try {
        jwk = JSON.parse(text);
      } catch {
        throw new DPoPError('ERR_KEY_IMPORT', 'Cannot import the key: the text starts like JSON but is not valid JSON. Give a PEM string, DER bytes or a private JWK.');
      }
      return normalize(jwk);
    }
    return fromPem(text);
  }
  if (tagOf(key) === 'ArrayBuffer') return fromDer(new Uint8Array(key as ArrayBuffer));
  if (ArrayBuffer.isView(key)) return fromDer(new Uint8Array(key.buffer, key.byteOffset, key.byteLength));
  if (isObject(key) && !Array.isArray(key)) return fromJwk(key);
  throw invalidType('key', 'a PEM string, DER bytes (ArrayBuffer or Uint8Array) or a private JWK object');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Whether a SEC 1 point (uncompressed, or compressed with y's parity) is (x, y). */
function matchesPoint(point: Uint8Array, x: Uint8Array, y: Uint8Array): boolean {
  if (!sameBytes(point.subarray(1, 33), x)) return false;
  if (point[0] === 4) return sameBytes(point.subarray(33), y);
  return (point[0]! & 1) === (y[31]! & 1);
}

/** Checks {@link ImportOptions} (paths under `options.`). */
export function assertImportOptions(options: unknown): asserts options is ImportOptions | undefined {
  assertOptionalObject(options, 'options');
  const { extractable, password } = (options ?? {}) as ImportOptions;
  assertBoolean(extractable, 'options.extractable');
  if (password !== undefined && typeof password !== 'string') throw invalidType('options.password', 'a string');
}

/**
 * Imports a P-256 private key and derives its public key.
 *
 * Accepts PKCS#8 PEM (`BEGIN PRIVATE KEY`), SEC1 PEM (`BEGIN EC PRIVATE KEY`), an encrypted
 * PKCS#8 PEM (`BEGIN ENCRYPTED PRIVATE KEY`, with `password`), DER bytes of any of them, or a
 * private JWK (object or JSON text). The returned private key is non-extractable unless
 * `extractable: true`. Anything else, or a wrong password, throws a DPoPError `ERR_KEY_IMPORT`.
 *
 * @param key the private key.
 * @param options `password` for an encrypted key; `extractable: true` keeps the private key exportable.
 * @example
 * const keyPair = await importKeyPair(await readFile('key.pem', 'utf8'), { password: process.env.KEY_PASSWORD });
 * @see https://www.rfc-editor.org/rfc/rfc5915 (SEC1), RFC 5208 (PKCS#8) and RFC 8018 §6.2 (PBES2)
 */
export async function importKeyPair(key: KeyInput, options?: ImportOptions): Promise<CryptoKeyPair> {
  let normalized = normalize(key);
  assertImportOptions(options);
  if (normalized.encrypted) normalized = fromDer(await decryptPkcs8(normalized.encrypted, options?.password));
  let jwk: JsonWebKey;
  try {
    // Imported extractable only for a moment: WebCrypto derives x and y when exporting.
    const transient = await crypto.subtle.importKey('pkcs8', normalized.pkcs8, ECDSA_P256, true, ['sign']);
    jwk = await crypto.subtle.exportKey('jwk', transient);
  } catch {
    throw new DPoPError('ERR_KEY_IMPORT', 'Cannot import the key: it is not a valid P-256 private key (the private scalar is zero or out of range). Give an EC P-256 private key.');
  }
  const publicJwk: PublicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
  if (normalized.claimedPublic && !matchesPoint(normalized.claimedPublic, decode(jwk.x!), decode(jwk.y!))) {
    throw new DPoPError('ERR_KEY_IMPORT', 'Cannot import the key: the public key stored with it does not belong to its private key. The key file is corrupt; export it again.');
  }
  const extractable = options?.extractable ?? false;
  const [privateKey, publicKey] = await Promise.all([
    crypto.subtle.importKey('jwk', { ...publicJwk, d: jwk.d! }, ECDSA_P256, extractable, ['sign']),
    crypto.subtle.importKey('jwk', publicJwk, ECDSA_P256, true, ['verify']),
  ]);
  publicJwks.set(publicKey, publicJwk);
  return { privateKey, publicKey };
}

/**
 * The public JWK `{ kty, crv, x, y }` of a key pair or public key, with no other members.
 *
 * @param key a CryptoKeyPair or a public CryptoKey.
 * @example
 * const jwk = await exportPublicJwk(keyPair); // { kty: 'EC', crv: 'P-256', x: '…', y: '…' }
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-6.2.1
 */
export async function exportPublicJwk(key: CryptoKeyPair | CryptoKey): Promise<PublicJwk> {
  const publicKey = isCryptoKeyPair(key) ? key.publicKey : key;
  if (!isCryptoKey(publicKey)) throw invalidType('key', 'a CryptoKeyPair or a public CryptoKey');
  if (publicKey.type !== 'public') throw invalidType('key', 'a CryptoKeyPair or a public CryptoKey (not a private key)');
  // A copy: the cached JWK goes into proof headers, and callers add `kid`, `use` or `alg` to
  // what they get here before publishing it.
  if (publicJwks.has(publicKey)) return { ...publicJwks.get(publicKey)! };
  const algorithm = publicKey.algorithm as EcKeyAlgorithm;
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw invalidType('key', 'an ECDSA P-256 key');
  }
  return { ...(await publicJwkOf(publicKey)) };
}

/**
 * The public JWK of a P-256 public key already checked by the caller, exported once per key.
 * Proofs use it directly: their key pair was checked on the way in.
 */
export async function publicJwkOf(publicKey: CryptoKey): Promise<PublicJwk> {
  let jwk = publicJwks.get(publicKey);
  if (jwk === undefined) {
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', publicKey));
    jwk = { kty: 'EC', crv: 'P-256', x: encode(raw.subarray(1, 33)), y: encode(raw.subarray(33, 65)) };
    publicJwks.set(publicKey, jwk);
  }
  return jwk;
}
