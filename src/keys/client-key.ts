/**
 * Client assertion keys for `private_key_jwt` (RFC 7523): RSA keys for RS256/384/512 or
 * PS256/384/512, and P-256 keys for ES256, from the files identity providers hand out. Not the
 * DPoP key, which stays P-256 (key.ts). Not on the core path: only apps that import it load it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3
 */
import { assertOneOf, invalidType, isObject, tagOf } from '../assert.ts';
import { DPoPError } from '../errors.ts';
import { children, contents, oid, readWhole, Tag, write } from './der.ts';
import { decryptPkcs8, isEncrypted } from './encrypted.ts';
import { assertImportOptions, importKeyPair, type ImportOptions, type KeyInput } from './key.ts';
import { readPem } from './pkcs8.ts';

const RSA = '1.2.840.113549.1.1.1';
const EC = '1.2.840.10045.2.1';
const ALGS: readonly AssertionAlg[] = ['ES256', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
// rsaEncryption with NULL parameters (RFC 8017 Appendix C), the wrapper of a PKCS#1 key.
const RSA_ALGORITHM = write(Tag.SEQUENCE, write(Tag.OID, Uint8Array.of(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01)), write(Tag.NULL));

/** The JWS algorithms of client assertions: what the key signs with (RFC 7518 §3.1). */
export type AssertionAlg = 'ES256' | 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512';

/** Options of {@link importClientKey}. */
export interface ClientKeyOptions extends ImportOptions {
  /** The algorithm the key will sign assertions with. Default: RS256 for an RSA key, ES256 for an EC key. */
  alg?: AssertionAlg | undefined;
}

function fail(problem: string, hint: string): never {
  throw new DPoPError('ERR_KEY_IMPORT', `Cannot import the client key: ${problem}. ${hint}.`);
}

/** A JWK without `alg` and `key_ops`, which would tie it to one WebCrypto algorithm or use. */
function withoutAlg({ alg: _alg, key_ops: _ops, ...rest }: JsonWebKey): JsonWebKey {
  return rest;
}

/** DER of a private key: PKCS#8 (plain or encrypted) or PKCS#1; which kind of key it holds. */
function classify(der: Uint8Array): 'rsa' | 'ec' | 'encrypted' {
  try {
    const top = readWhole(der);
    if (isEncrypted(der, top)) return 'encrypted';
    const [version, second] = children(der, top);
    if (version?.tag === Tag.SEQUENCE) fail('a public key or a certificate', 'Give the private key');
    if (version?.tag === Tag.INTEGER && second?.tag === Tag.INTEGER) return 'rsa'; // PKCS#1 RSAPrivateKey
    if (second?.tag === Tag.OCTET_STRING) return 'ec'; // SEC1 ECPrivateKey
    const algorithm = oid(contents(der, children(der, second!)[0]!));
    if (algorithm === RSA) return 'rsa';
    if (algorithm === EC) return 'ec';
    return fail(`a key of algorithm ${algorithm}`, 'Give an RSA key (RS256, PS256) or an EC P-256 key (ES256)');
  } catch (err) {
    if (err instanceof DPoPError) throw err;
    return fail('the data is not a private key in PEM, DER or JWK form', 'Give the PEM file your identity provider made');
  }
}

/**
 * Imports a private key for `private_key_jwt` client assertions, and its public key (to
 * register at the server as a JWK).
 *
 * Accepts PEM (`BEGIN PRIVATE KEY`, `BEGIN RSA PRIVATE KEY`, `BEGIN EC PRIVATE KEY`, or
 * `BEGIN ENCRYPTED PRIVATE KEY` with `password`), DER bytes of those, or a private JWK. RSA keys
 * must have at least 2048 bits (RFC 7518 §3.3). The private key is non-extractable unless
 * `extractable: true`. Anything else, or a wrong password, throws `ERR_KEY_IMPORT`.
 *
 * @param key the private key.
 * @param options `alg` (default RS256 for RSA, ES256 for EC), `password`, `extractable`.
 * @example
 * const clientKey = await importClientKey(await readFile('okta-client.pem', 'utf8'), { alg: 'RS256' });
 * const tokens = clientCredentials({ tokenEndpoint, clientId, clientAssertionKey: clientKey, clientAssertionKid: 'k1' });
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 */
export async function importClientKey(key: KeyInput, options?: ClientKeyOptions): Promise<CryptoKeyPair> {
  let der: Uint8Array | undefined;
  let jwk: Record<string, unknown> | undefined;
  if (typeof key === 'string' && key.trim().startsWith('{')) {
    try {
      jwk = JSON.parse(key);
    } catch {
      fail('the text starts like JSON but is not valid JSON', 'Give a PEM string, DER bytes or a private JWK');
    }
  } else if (typeof key === 'string') der = readPem(key).der;
  else if (tagOf(key) === 'ArrayBuffer') der = new Uint8Array(key as ArrayBuffer);
  else if (ArrayBuffer.isView(key)) der = new Uint8Array(key.buffer, key.byteOffset, key.byteLength);
  else if (isObject(key) && !Array.isArray(key)) jwk = key as Record<string, unknown>;
  else throw invalidType('key', 'a PEM string, DER bytes (ArrayBuffer or Uint8Array) or a private JWK object');
  assertImportOptions(options);
  assertOneOf(options?.alg, 'options.alg', ALGS);

  let kind = jwk ? (jwk.kty === 'RSA' ? 'rsa' : 'ec') : classify(der!);
  if (kind === 'encrypted') {
    der = await decryptPkcs8(der!, options?.password);
    kind = classify(der);
  }
  const alg = options?.alg ?? (kind === 'rsa' ? 'RS256' : 'ES256');
  if ((kind === 'ec') !== (alg === 'ES256')) {
    fail(kind === 'ec' ? `an EC key cannot sign ${alg}` : 'an RSA key cannot sign ES256', kind === 'ec' ? 'Use alg ES256, or give an RSA key' : 'Use alg RS256 or PS256, or give an EC P-256 key');
  }
  if (kind === 'ec') {
    try {
      return await importKeyPair((jwk as JsonWebKey | undefined) ?? der!, { extractable: !!options?.extractable });
    } catch (err) {
      // importKeyPair speaks of the DPoP key; this is the client key.
      throw new DPoPError('ERR_KEY_IMPORT', (err as Error).message.replace('Cannot import the key', 'Cannot import the client key').replace('DPoP here signs with ES256: give', 'ES256 needs'), { cause: err });
    }
  }
  const params = { name: alg[0] === 'P' ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5', hash: `SHA-${alg.slice(2)}` };
  let full: JsonWebKey;
  let bits: number;
  try {
    // A PKCS#1 key is wrapped as PKCS#8; imported extractable for a moment to derive the public key.
    const pkcs8 = der && children(der, readWhole(der))[1]?.tag === Tag.INTEGER ? write(Tag.SEQUENCE, write(Tag.INTEGER, Uint8Array.of(0)), RSA_ALGORITHM, write(Tag.OCTET_STRING, der)) : der;
    const transient = pkcs8
      ? await crypto.subtle.importKey('pkcs8', pkcs8 as BufferSource, params, true, ['sign'])
      : await crypto.subtle.importKey('jwk', { ...withoutAlg(jwk as JsonWebKey), ext: true }, params, true, ['sign']);
    full = await crypto.subtle.exportKey('jwk', transient);
    bits = (transient.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  } catch {
    return fail('it is not a valid RSA private key', 'Give the PEM file your identity provider made');
  }
  if (bits < 2048) fail(`an RSA key of ${bits} bits; RFC 7518 §3.3 asks for 2048 or more`, 'Make a new key, e.g. `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`');
  const { n, e } = full;
  const [privateKey, publicKey] = await Promise.all([
    crypto.subtle.importKey('jwk', withoutAlg(full), params, options?.extractable ?? false, ['sign']),
    crypto.subtle.importKey('jwk', { kty: 'RSA', n: n!, e: e! }, params, true, ['verify']),
  ]);
  return { privateKey, publicKey };
}
