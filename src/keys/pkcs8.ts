/**
 * Turns every key format importKeyPair accepts into one canonical P-256 PKCS#8 (RFC 5208,
 * with an RFC 5915 ECPrivateKey inside): PKCS#8 PEM, SEC1 PEM (`BEGIN EC PRIVATE KEY`),
 * DER bytes of either, or a private JWK. An encrypted PKCS#8 is handed back as such, for
 * encrypted.ts to decrypt. Anything else is a DPoPError `ERR_KEY_IMPORT` that says what was
 * found and what to give instead.
 */
import { decode as decodeBase64url } from '../base64url.ts';
import { children, contents, oid, read, readWhole, Tag, write, type Element } from './der.ts';
import { isEncrypted, legacyEncrypted } from './encrypted.ts';
import { DPoPError } from '../errors.ts';

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const P256 = '1.2.840.10045.3.1.7';
const KNOWN_ALGORITHMS: Record<string, string> = {
  '1.2.840.113549.1.1.1': 'an RSA key',
  '1.2.840.113549.1.1.10': 'an RSA-PSS key',
  '1.3.101.112': 'an Ed25519 key',
  '1.3.101.113': 'an Ed448 key',
  '1.3.101.110': 'an X25519 key',
  '1.3.101.111': 'an X448 key',
  '1.2.840.10040.4.1': 'a DSA key',
};
const KNOWN_CURVES: Record<string, string> = {
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
  '1.3.132.0.10': 'secp256k1',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
};
const WHAT_TO_DO = 'DPoP here signs with ES256: give an EC P-256 private key, e.g. from `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` or generateKeyPair()';

/** The canonical PKCS#8 and, when the source carried one, the public point it claimed. */
export interface NormalizedKey {
  pkcs8: Uint8Array<ArrayBuffer>;
  /** Set instead when the key is an encrypted PKCS#8: its DER, to decrypt first. */
  encrypted?: Uint8Array;
  /** The SEC 1 point stored with the key (`04||x||y` or `02/03||x`), to check against the derived public key. */
  claimedPublic?: Uint8Array;
}

function fail(found: string, hint = WHAT_TO_DO): never {
  throw new DPoPError('ERR_KEY_IMPORT', `Cannot import the key: ${found}. ${hint}.`);
}

function curveName(value: string): string {
  return KNOWN_CURVES[value] ?? `the curve ${value}`;
}

/**
 * Builds PKCS#8 from the private scalar alone. A public point the source carried is returned
 * beside it, not inside it: WebCrypto derives the point itself and we compare, so a mismatch
 * gets the same clear message in every runtime.
 */
function buildPkcs8(d: Uint8Array, publicPoint?: Uint8Array): NormalizedKey {
  if (d.length > 32 && d.subarray(0, d.length - 32).some((b) => b !== 0)) fail('the private scalar is longer than 32 bytes, so it is not a P-256 key');
  const scalar = new Uint8Array(32);
  scalar.set(d.subarray(Math.max(0, d.length - 32)), 32 - Math.min(32, d.length));
  const ecPrivateKey = write(Tag.SEQUENCE, write(Tag.INTEGER, Uint8Array.of(1)), write(Tag.OCTET_STRING, scalar));
  const algorithm = write(
    Tag.SEQUENCE,
    write(Tag.OID, Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01)),
    write(Tag.OID, Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07)),
  );
  const pkcs8 = write(Tag.SEQUENCE, write(Tag.INTEGER, Uint8Array.of(0)), algorithm, write(Tag.OCTET_STRING, ecPrivateKey));
  if (publicPoint === undefined) return { pkcs8 };
  // SEC 1 §2.3.3: 04||x||y, or 02/03||x with y's parity in the prefix. Anything else is corrupt.
  const form = publicPoint[0];
  const wellFormed = (form === 4 && publicPoint.length === 65) || ((form === 2 || form === 3) && publicPoint.length === 33);
  if (!wellFormed) fail('the public key stored with the private key is malformed (the key file is corrupt)', 'Export the key again');
  return { pkcs8, claimedPublic: publicPoint };
}

function expect(element: Element | undefined, tag: number): Element {
  if (!element || element.tag !== tag) throw new RangeError('unexpected DER structure');
  return element;
}

/** RFC 5915 ECPrivateKey; `curveFromOuter` is the curve the PKCS#8 wrapper named, if any. */
function fromEcPrivateKey(bytes: Uint8Array, curveFromOuter?: string): NormalizedKey {
  const [version, privateKey, ...rest] = children(bytes, expect(read(bytes, 0), Tag.SEQUENCE));
  if (contents(bytes, expect(version, Tag.INTEGER)).join() !== '1') throw new RangeError('ECPrivateKey version');
  const d = contents(bytes, expect(privateKey, Tag.OCTET_STRING));
  let curve = curveFromOuter;
  let publicPoint: Uint8Array | undefined;
  for (const field of rest) {
    if (field.tag === Tag.CONTEXT_0) curve = oid(contents(bytes, expect(read(bytes, field.start, field.end), Tag.OID)));
    if (field.tag === Tag.CONTEXT_1) publicPoint = contents(bytes, expect(read(bytes, field.start, field.end), Tag.BIT_STRING)).subarray(1);
  }
  if (curve === undefined) fail('the EC key does not name its curve', 'Export it with its parameters (openssl ec -param_enc named_curve)');
  if (curve !== P256) fail(`an EC key on ${curveName(curve)}, not P-256`);
  return buildPkcs8(d, publicPoint);
}

function fromPkcs8(bytes: Uint8Array, top: Element): NormalizedKey {
  const [, algorithm, privateKey] = children(bytes, top);
  const [algorithmId, parameters] = children(bytes, expect(algorithm, Tag.SEQUENCE));
  const algorithmOid = oid(contents(bytes, expect(algorithmId, Tag.OID)));
  if (algorithmOid !== EC_PUBLIC_KEY) fail(KNOWN_ALGORITHMS[algorithmOid] ?? `a key of algorithm ${algorithmOid}`);
  const curve = parameters?.tag === Tag.OID ? oid(contents(bytes, parameters)) : undefined;
  if (curve !== undefined && curve !== P256) fail(`an EC key on ${curveName(curve)}, not P-256`);
  return fromEcPrivateKey(contents(bytes, expect(privateKey, Tag.OCTET_STRING)), curve);
}

/** DER bytes: PKCS#8, SEC1, or a recognisable mistake (public key, RSA PKCS#1). */
export function fromDer(bytes: Uint8Array): NormalizedKey {
  let top: Element;
  let first: Element | undefined;
  let second: Element | undefined;
  try {
    top = expect(readWhole(bytes), Tag.SEQUENCE);
    [first, second] = children(bytes, top);
  } catch {
    return fail('the data is not DER (it is empty, truncated or corrupt)');
  }
  if (isEncrypted(bytes, top)) return { pkcs8: new Uint8Array(), encrypted: bytes };
  if (first?.tag === Tag.SEQUENCE) fail('a public key (SubjectPublicKeyInfo); a private key is needed to sign proofs');
  if (first?.tag === Tag.INTEGER && second?.tag === Tag.INTEGER) fail('an RSA private key (PKCS#1)');
  try {
    if (second?.tag === Tag.SEQUENCE) return fromPkcs8(bytes, top);
    if (second?.tag === Tag.OCTET_STRING) return fromEcPrivateKey(bytes);
  } catch (err) {
    if (err instanceof DPoPError) throw err;
  }
  return fail('the DER is not a PKCS#8 or SEC1 private key (it may be truncated or corrupt)');
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/**
 * The first private-key block of PEM text (OpenSSL may put `EC PARAMETERS` first), else the
 * first block: its label and DER. OpenSSL's legacy encrypted PEM is refused here.
 */
export function readPem(text: string): { label: string; der: Uint8Array } {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) {
    fail(text.includes('-----BEGIN') ? 'the PEM is truncated (no matching END line)' : 'the text is not PEM, DER or a JWK');
  }
  const block = blocks.find((b) => b[1]!.endsWith('PRIVATE KEY')) ?? blocks[0]!;
  const [, label, body] = block as unknown as [string, string, string];
  if (/Proc-Type:\s*4,\s*ENCRYPTED/.test(body)) legacyEncrypted();
  try {
    const binary = atob(body.replace(/\s+/g, ''));
    return { label, der: Uint8Array.from(binary, (c) => c.charCodeAt(0)) };
  } catch {
    return fail('the PEM body is not valid base64');
  }
}

/** PEM text: a P-256 private key (PKCS#8, SEC1, or an encrypted PKCS#8 to decrypt). */
export function fromPem(text: string): NormalizedKey {
  const { label, der } = readPem(text);
  if (label === 'RSA PRIVATE KEY') fail('an RSA private key');
  if (label === 'PUBLIC KEY' || label === 'CERTIFICATE') fail(`a ${label.toLowerCase()}; a private key is needed to sign proofs`);
  if (label !== 'PRIVATE KEY' && label !== 'EC PRIVATE KEY' && label !== 'ENCRYPTED PRIVATE KEY') fail(`a PEM block labelled "${label}"`);
  return fromDer(der);
}

function jwkMember(jwk: Record<string, unknown>, name: string): Uint8Array | undefined {
  const value = jwk[name];
  if (value === undefined) return undefined;
  try {
    if (typeof value !== 'string') throw new SyntaxError();
    return decodeBase64url(value);
  } catch {
    return fail(`the JWK member "${name}" is not base64url`);
  }
}

/** A private JWK; `x` and `y` are optional and checked against `d` when present. */
export function fromJwk(jwk: Record<string, unknown>): NormalizedKey {
  if (jwk.kty !== 'EC') fail(typeof jwk.kty === 'string' ? `a JWK of kty "${jwk.kty}"` : 'a JWK without "kty"');
  if (jwk.crv !== 'P-256') fail(`an EC JWK on ${String(jwk.crv)}, not P-256`);
  const d = jwkMember(jwk, 'd');
  if (!d) fail('a public JWK (no "d"); a private key is needed to sign proofs');
  if (d.length !== 32) fail('the JWK member "d" is not 32 bytes');
  const x = jwkMember(jwk, 'x');
  const y = jwkMember(jwk, 'y');
  if (x && y && x.length === 32 && y.length === 32) {
    const point = new Uint8Array(65);
    point[0] = 4;
    point.set(x, 1);
    point.set(y, 33);
    return buildPkcs8(d, point);
  }
  if (x || y) fail('the JWK members "x" and "y" are not 32 bytes each');
  return buildPkcs8(d);
}
