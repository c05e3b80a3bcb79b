// The PBES2 parameters of an encrypted key (src/keys/encrypted.ts) one at a time, at their edges.
// The keys are rebuilt from one that node:crypto encrypted (its salt, IV, iteration count and
// ciphertext read by `openssl asn1parse`): rebuilt as it was, it decrypts to node's key (the
// control), and each change alone gets the refusal that names it.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createCipheriv, createPrivateKey, generateKeyPairSync, pbkdf2Sync } from 'node:crypto';
import * as jose from 'jose';
import { calculateThumbprint, importKeyPair } from '../../src/index.ts';
import { caught } from '../helpers.ts';

const PASSWORD = 'pw';
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const thumbprint = await jose.calculateJwkThumbprint(ec.publicKey.export({ format: 'jwk' }) as jose.JWK);
const der = ec.privateKey.export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: PASSWORD });
const dump = execFileSync('openssl', ['asn1parse', '-inform', 'DER'], { input: der, encoding: 'utf8' });
const [salt, iv, data] = [...dump.matchAll(/\[HEX DUMP\]:([0-9A-F]+)/g)].map((m) => Buffer.from(m[1]!, 'hex')) as [Buffer, Buffer, Buffer];
const iterations = parseInt(/INTEGER\s+:([0-9A-F]+)/.exec(dump)![1]!, 16);

const tlv = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  const length = body.length < 128 ? [body.length] : body.length < 256 ? [0x81, body.length] : [0x82, body.length >> 8, body.length & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
};
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));
/** A DER INTEGER of a non-negative number (a leading 0 when the high bit is set). */
const int = (n: number) => {
  const hex = n.toString(16);
  const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  return tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
};
const PBES2 = '2a864886f70d01050d';
const PBKDF2 = '2a864886f70d01050c';
const SHA256 = '2a864886f70d0209';
const AES256 = '60864801650304012a';

interface Params {
  scheme?: string;
  kdf?: string;
  count?: Buffer;
  keyLength?: number;
  prf?: string | null;
  cipher?: string;
  iv?: Buffer;
  data?: Buffer;
  saltTag?: number;
}
/** EncryptedPrivateKeyInfo with PBES2 (RFC 8018 A.4), node's values unless changed. */
function build(p: Params = {}) {
  const prf = p.prf === null ? [] : [tlv(0x30, oid(p.prf ?? SHA256), tlv(0x05))];
  const kdfParams = tlv(0x30, tlv(p.saltTag ?? 0x04, salt), p.count ?? int(iterations), ...(p.keyLength === undefined ? [] : [int(p.keyLength)]), ...prf);
  const encryption = tlv(0x30, oid(p.cipher ?? AES256), tlv(0x04, p.iv ?? iv));
  const parameters = tlv(0x30, tlv(0x30, oid(p.kdf ?? PBKDF2), kdfParams), encryption);
  return new Uint8Array(tlv(0x30, tlv(0x30, oid(p.scheme ?? PBES2), parameters), tlv(0x04, p.data ?? data)));
}
/** `plain` encrypted as node:crypto encrypted the key (PBKDF2-HMAC-SHA-256, same salt, count and IV, AES-256-CBC). */
const encrypt = (plain: Uint8Array) => {
  const cipher = createCipheriv('aes-256-cbc', pbkdf2Sync(PASSWORD, salt, iterations, 32, 'sha256'), iv);
  return Buffer.concat([cipher.update(plain), cipher.final()]);
};
const message = async (key: Uint8Array, password?: string) => {
  const err = await caught(() => importKeyPair(key, password === undefined ? {} : { password }));
  expect(err.code).toBe('ERR_KEY_IMPORT');
  return err.message as string;
};

describe('PBES2 parameters', () => {
  it('rebuilt as node:crypto wrote them, the key decrypts to node\'s key; with the key length named, too', async () => {
    expect(await calculateThumbprint(await importKeyPair(build(), { password: PASSWORD }))).toBe(thumbprint);
    expect(await calculateThumbprint(await importKeyPair(build({ keyLength: 32 }), { password: PASSWORD }))).toBe(thumbprint);
  });

  it('the iteration count: 1 to 10,000,000 pass the check (then the password is asked for), 0 and more do not', async () => {
    const asked = 'Cannot import the key: the key is encrypted. Give its password (options.password).';
    for (const n of [1, 10_000_000]) expect(await message(build({ count: int(n) })), `${n}`).toBe(asked);
    for (const n of [0, 10_000_001, 2 ** 40]) {
      expect(await message(build({ count: int(n) }), PASSWORD), `${n}`).toBe(`Cannot import the key: the key's PBKDF2 iteration count (${n}) is out of range. Export it again.`);
    }
    // Six bytes are read as a number; seven or more are beyond any count.
    expect(await message(build({ count: tlv(0x02, Buffer.from('010000000000', 'hex')) }))).toMatch(/iteration count \(1099511627776\) is out of range/);
    expect(await message(build({ count: tlv(0x02, Buffer.from('00000000000001', 'hex')) }))).toMatch(/iteration count \(Infinity\) is out of range/);
  });

  it('a key length that does not fit the cipher, an IV that is not 16 bytes, a cipher that is not AES-CBC', async () => {
    expect(await message(build({ keyLength: 16 }), PASSWORD)).toBe('Cannot import the key: the encrypted key names a key length that does not fit its cipher. Export it again.');
    for (const bad of [iv.subarray(0, 15), Buffer.concat([iv, Buffer.from([0])])]) {
      expect(await message(build({ iv: bad }), PASSWORD)).toMatch(/a cipher other than AES-CBC \(2\.16\.840\.1\.101\.3\.4\.1\.42\)/);
    }
    expect(await message(build({ cipher: '608648016503040106' }), PASSWORD)).toMatch(/^Cannot import the key: the key is encrypted with a cipher other than AES-CBC \(2\.16\.840\.1\.101\.3\.4\.1\.6\)\. Convert it/); // AES-128-GCM
  });

  it('the PRF: HMAC-SHA-1 when none is named; one WebCrypto lacks (HMAC-SHA-224) is refused', async () => {
    // Without a PRF the key derives with HMAC-SHA-1, which is not how node encrypted it: a wrong key.
    expect(await message(build({ prf: null }), PASSWORD)).toBe('Cannot import the key: the password is wrong (the key did not decrypt). Check the password.');
    expect(await message(build({ prf: '2a864886f70d0208' }), PASSWORD)).toBe('Cannot import the key: the key is encrypted with an HMAC that WebCrypto does not have. Convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key.p8.pem` (or decrypt it with `openssl pkey -in key.pem -out plain.pem`).');
  });

  it('the scheme and key derivation: PBES1, PKCS#12, unknown ones named by their OID', async () => {
    expect(await message(build({ scheme: '2a864886f70d010503' }), PASSWORD)).toMatch(/encrypted with PBES1 or PKCS#12 \(MD5, DES or RC2\), which WebCrypto cannot decrypt/); // pbeWithMD5AndDES-CBC
    expect(await message(build({ scheme: '2a864886f70d010c0103' }), PASSWORD)).toMatch(/encrypted with PBES1 or PKCS#12/); // pbeWithSHAAnd3-KeyTripleDES-CBC
    expect(await message(build({ scheme: '2a0304' }), PASSWORD)).toMatch(/encrypted with an unknown scheme \(1\.2\.3\.4\), which WebCrypto cannot decrypt/);
    expect(await message(build({ kdf: '2a0304' }), PASSWORD)).toMatch(/password is derived with an unknown function \(1\.2\.3\.4\), which WebCrypto does not have/);
  });

  it('the plain text: node\'s plain key re-encrypted here decrypts (and OpenSSL agrees); another encrypted key inside is "encrypted twice"; DER that is no PKCS#8, or no DER, is a wrong password', async () => {
    const plain = ec.privateKey.export({ format: 'der', type: 'pkcs8' });
    const control = build({ data: encrypt(plain) });
    expect(await calculateThumbprint(await importKeyPair(control, { password: PASSWORD }))).toBe(thumbprint);
    const decrypted = execFileSync('openssl', ['pkey', '-inform', 'DER', '-passin', `pass:${PASSWORD}`], { input: control, encoding: 'utf8' });
    expect(createPrivateKey(decrypted).export({ format: 'jwk' }).d).toBe(ec.privateKey.export({ format: 'jwk' }).d);
    expect(await message(build({ data: encrypt(der) }), PASSWORD)).toBe('Cannot import the key: it is encrypted twice (its plain text is another encrypted key). Export it again, encrypted once.');
    const wrong = 'Cannot import the key: the password is wrong (the key did not decrypt). Check the password.';
    expect(await message(build({ data: encrypt(ec.publicKey.export({ format: 'der', type: 'spki' })) }), PASSWORD)).toBe(wrong); // SEQUENCE { SEQUENCE, BIT STRING }
    expect(await message(build({ data: encrypt(Buffer.from('not DER at all')) }), PASSWORD)).toBe(wrong);
    expect(await message(build({ data: encrypt(Buffer.from('3003300100', 'hex')) }), PASSWORD)).toBe(wrong); // SEQUENCE holding a truncated SEQUENCE
    expect(await message(build({ data: encrypt(Buffer.from('3000', 'hex')) }), PASSWORD)).toBe(wrong); // an empty SEQUENCE
    expect(await message(build({ data: encrypt(Buffer.from('0403020100', 'hex')) }), PASSWORD)).toBe(wrong); // OCTET STRING { INTEGER 0 }, no SEQUENCE
  });

  it('a field of the wrong type (the salt as an INTEGER) is no EncryptedPrivateKeyInfo, whatever the password', async () => {
    expect(await message(build({ saltTag: 0x02 }), PASSWORD)).toBe('Cannot import the key: the encrypted key is not a valid EncryptedPrivateKeyInfo (it may be truncated or corrupt). Export it again.');
  });
});
