/**
 * Encrypted private keys (`BEGIN ENCRYPTED PRIVATE KEY`): PKCS#8 EncryptedPrivateKeyInfo with
 * PBES2 (RFC 8018 §6.2), PBKDF2 with HMAC-SHA-1/224/256/384/512 and AES-128/192/256-CBC,
 * which is what `openssl pkcs8 -topk8`, `openssl genpkey -aes-256-cbc` and Node's
 * `KeyObject.export({ cipher, passphrase })` write. Decrypted with WebCrypto alone. The older
 * forms need MD5 or DES, which WebCrypto lacks; they get an error with the `openssl` command
 * that converts them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5958#section-3 (EncryptedPrivateKeyInfo)
 * @see https://www.rfc-editor.org/rfc/rfc8018#section-6.2 (PBES2)
 */
import { children, contents, oid, read, readWhole, Tag, type Element } from './der.ts';
import { DPoPError } from '../errors.ts';

const PBES2 = '1.2.840.113549.1.5.13';
const PBKDF2 = '1.2.840.113549.1.5.12';
// RFC 8018 Appendix B.1.1-B.1.2: the PRF, HMAC-SHA-1 when absent.
const PRF: Record<string, string> = {
  '1.2.840.113549.2.7': 'SHA-1',
  '1.2.840.113549.2.9': 'SHA-256',
  '1.2.840.113549.2.10': 'SHA-384',
  '1.2.840.113549.2.11': 'SHA-512',
};
// NIST AES-CBC object identifiers and their key lengths in bytes.
const AES_CBC: Record<string, number> = {
  '2.16.840.1.101.3.4.1.2': 16,
  '2.16.840.1.101.3.4.1.22': 24,
  '2.16.840.1.101.3.4.1.42': 32,
};
// Far above any real key file (OpenSSL 3 writes 2048; password managers up to ~1M), far below
// what would hang the caller.
const MAX_ITERATIONS = 10_000_000;
const CONVERT = 'Convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key.p8.pem` (or decrypt it with `openssl pkey -in key.pem -out plain.pem`)';

function fail(problem: string, hint = CONVERT): never {
  throw new DPoPError('ERR_KEY_IMPORT', `Cannot import the key: ${problem}. ${hint}.`);
}

/** A wrong password shows as a failed decryption, or as a plain text that is no PKCS#8. */
function wrongPassword(): never {
  return fail('the password is wrong (the key did not decrypt)', 'Check the password');
}

function expect(element: Element | undefined, tag: number): Element {
  if (element?.tag !== tag) throw new RangeError('unexpected DER structure');
  return element;
}

/** A DER INTEGER of at most 6 bytes as a number. */
function integer(bytes: Uint8Array): number {
  if (bytes.length > 6) return Infinity;
  return bytes.reduce((n, b) => n * 256 + b, 0);
}

/**
 * Whether `bytes` (a whole DER SEQUENCE) is an EncryptedPrivateKeyInfo: an algorithm, then an
 * OCTET STRING (a public key has a BIT STRING there, a plain PKCS#8 starts with an INTEGER).
 */
export function isEncrypted(bytes: Uint8Array, top: Element): boolean {
  const [algorithm, data] = children(bytes, top);
  return algorithm?.tag === Tag.SEQUENCE && data?.tag === Tag.OCTET_STRING;
}

/** The refusal for a PEM in OpenSSL's legacy encrypted form (`Proc-Type: 4,ENCRYPTED`, MD5-based). */
export function legacyEncrypted(): never {
  return fail("the key is encrypted in OpenSSL's legacy form (Proc-Type: 4,ENCRYPTED), whose key derivation needs MD5, which WebCrypto does not have");
}

/**
 * Decrypts an EncryptedPrivateKeyInfo with `password` (UTF-8, as OpenSSL takes it) and returns
 * the plain PKCS#8 DER. A wrong password is an `ERR_KEY_IMPORT` that says so: AES-CBC's
 * padding check catches it, and a decryption that passes it by chance is not a key.
 */
export async function decryptPkcs8(bytes: Uint8Array, password: string | undefined): Promise<Uint8Array> {
  let salt: Uint8Array, iterations: number, hash: string | undefined, keyLength: number | undefined, iv: Uint8Array, data: Uint8Array;
  let keyDerivation: string, cipher: string;
  try {
    const [algorithm, encrypted] = children(bytes, readWhole(bytes));
    const [scheme, parameters] = children(bytes, expect(algorithm, Tag.SEQUENCE));
    const schemeOid = oid(contents(bytes, expect(scheme, Tag.OID)));
    if (schemeOid !== PBES2) fail(`the key is encrypted with ${schemeOid.startsWith('1.2.840.113549.1.5.') || schemeOid.startsWith('1.2.840.113549.1.12.') ? 'PBES1 or PKCS#12 (MD5, DES or RC2)' : `an unknown scheme (${schemeOid})`}, which WebCrypto cannot decrypt`);
    const [kdf, encryption] = children(bytes, expect(parameters, Tag.SEQUENCE));
    const [kdfId, kdfParams] = children(bytes, expect(kdf, Tag.SEQUENCE));
    keyDerivation = oid(contents(bytes, expect(kdfId, Tag.OID)));
    const [saltElement, count, ...rest] = children(bytes, expect(kdfParams, Tag.SEQUENCE));
    salt = contents(bytes, expect(saltElement, Tag.OCTET_STRING));
    iterations = integer(contents(bytes, expect(count, Tag.INTEGER)));
    hash = 'SHA-1';
    for (const field of rest) {
      if (field.tag === Tag.INTEGER) keyLength = integer(contents(bytes, field));
      if (field.tag === Tag.SEQUENCE) hash = PRF[oid(contents(bytes, expect(read(bytes, field.start, field.end), Tag.OID)))];
    }
    const [cipherId, ivElement] = children(bytes, expect(encryption, Tag.SEQUENCE));
    cipher = oid(contents(bytes, expect(cipherId, Tag.OID)));
    iv = contents(bytes, expect(ivElement, Tag.OCTET_STRING));
    data = contents(bytes, expect(encrypted, Tag.OCTET_STRING));
  } catch (err) {
    if (err instanceof DPoPError) throw err;
    return fail('the encrypted key is not a valid EncryptedPrivateKeyInfo (it may be truncated or corrupt)', 'Export it again');
  }
  const length = AES_CBC[cipher];
  if (keyDerivation !== PBKDF2) fail(`the key's password is derived with ${keyDerivation === '1.3.6.1.4.1.11591.4.11' ? 'scrypt' : `an unknown function (${keyDerivation})`}, which WebCrypto does not have`);
  if (!hash) fail('the key is encrypted with an HMAC that WebCrypto does not have');
  if (!length || iv.length !== 16) fail(`the key is encrypted with a cipher other than AES-CBC (${cipher})`);
  if (keyLength !== undefined && keyLength !== length) fail('the encrypted key names a key length that does not fit its cipher', 'Export it again');
  if (!(iterations > 0 && iterations <= MAX_ITERATIONS)) fail(`the key's PBKDF2 iteration count (${iterations}) is out of range`, 'Export it again');
  if (password === undefined) fail('the key is encrypted', 'Give its password (options.password)');
  // PBKDF2 takes any password bytes, and its hash, count and length are checked above.
  const secret = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', salt: salt as BufferSource, iterations, hash }, secret, length * 8);
  let aes: CryptoKey;
  try {
    aes = await crypto.subtle.importKey('raw', bits, 'AES-CBC', false, ['decrypt']);
  } catch {
    // Chromium's WebCrypto has no 192-bit AES.
    return fail(`the key is encrypted with AES-${length * 8}-CBC, which this runtime's WebCrypto does not have`, 'Convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key.p8.pem`');
  }
  let der: Uint8Array;
  try {
    der = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-CBC', iv: iv as BufferSource }, aes, data as BufferSource));
  } catch {
    return wrongPassword();
  }
  // A wrong password passes the padding check about once in 256 tries; it still is no PKCS#8.
  let top: Element, first: Element | undefined;
  try {
    top = expect(readWhole(der), Tag.SEQUENCE);
    [first] = children(der, top);
  } catch {
    return wrongPassword();
  }
  if (isEncrypted(der, top)) fail('it is encrypted twice (its plain text is another encrypted key)', 'Export it again, encrypted once');
  if (first?.tag !== Tag.INTEGER) wrongPassword();
  return der;
}
