// The key forms importKeyPair normalises (src/keys/pkcs8.ts) at their edges, each built by hand
// around a key made by node:crypto and judged by jose: the imported key must have the source's
// thumbprint (its public key derived by node:crypto's ECDH), or the refusal must say what is wrong. key.test.ts imports the usual forms.
import { describe, expect, it } from 'vitest';
import { createECDH, randomBytes } from 'node:crypto';
import * as jose from 'jose';
import { calculateThumbprint, importKeyPair } from '../../src/index.ts';
import { caught } from '../helpers.ts';

const tlv = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  const length = body.length < 128 ? [body.length] : [0x81, body.length];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
};
const P256_OID = tlv(0x06, Buffer.from('2a8648ce3d030107', 'hex'));
const EC_OID = tlv(0x06, Buffer.from('2a8648ce3d0201', 'hex'));

/** A P-256 key from node:crypto: its scalar and point, and the thumbprint jose gives it. */
async function source(d?: Buffer) {
  const ecdh = createECDH('prime256v1');
  if (d) ecdh.setPrivateKey(d);
  else ecdh.generateKeys();
  const point = ecdh.getPublicKey();
  const [x, y] = [point.subarray(1, 33), point.subarray(33)];
  const scalar = ecdh.getPrivateKey(); // without its leading zero bytes
  const jwk = { kty: 'EC', crv: 'P-256', d: Buffer.concat([Buffer.alloc(32 - scalar.length), scalar]).toString('base64url'), x: x.toString('base64url'), y: y.toString('base64url') };
  const thumbprint = await jose.calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
  return { d: Buffer.from(jwk.d, 'base64url'), x, y, jwk, thumbprint, point };
}

/** SEC1 ECPrivateKey: version 1, d, then [0] curve and [1] point when given. */
function sec1(d: Buffer, { curve, point }: { curve?: Buffer | undefined; point?: Buffer | undefined } = {}) {
  return tlv(0x30, tlv(0x02, Buffer.from([1])), tlv(0x04, d), ...(curve ? [tlv(0xa0, curve)] : []), ...(point ? [tlv(0xa1, tlv(0x03, Buffer.from([0]), point))] : []));
}
/** PKCS#8 around an ECPrivateKey, with these algorithm parameters (none when undefined). */
function pkcs8(inner: Buffer, parameters?: Buffer) {
  return tlv(0x30, tlv(0x02, Buffer.from([0])), tlv(0x30, EC_OID, ...(parameters ? [parameters] : [])), tlv(0x04, inner));
}
const refusal = async (input: unknown) => {
  const err = await caught(() => importKeyPair(input as never));
  expect(err.code).toBe('ERR_KEY_IMPORT');
  return err.message as string;
};

describe('the private scalar', () => {
  it('with leading zeros written (33 bytes, as an INTEGER would be) or left out (31 bytes): the same key', async () => {
    const key = await source(Buffer.concat([Buffer.from([0]), randomBytes(31)])); // 1 in 256 keys
    expect(key.d).toHaveLength(32);
    expect(await calculateThumbprint(await importKeyPair(sec1(Buffer.concat([Buffer.from([0]), key.d]), { curve: P256_OID })))).toBe(key.thumbprint);
    expect(await calculateThumbprint(await importKeyPair(sec1(Buffer.concat([Buffer.alloc(3), key.d]), { curve: P256_OID })))).toBe(key.thumbprint);
    expect(await calculateThumbprint(await importKeyPair(sec1(key.d.subarray(1), { curve: P256_OID })))).toBe(key.thumbprint);
  });

  it('longer than 32 bytes with a non-zero byte in front: not a P-256 key', async () => {
    const key = await source();
    expect(await refusal(sec1(Buffer.concat([Buffer.from([1]), key.d]), { curve: P256_OID }))).toMatch(/private scalar is longer than 32 bytes, so it is not a P-256 key/);
    expect(await refusal(sec1(Buffer.concat([Buffer.from([1, 0]), key.d]), { curve: P256_OID }))).toMatch(/longer than 32 bytes/);
  });
});

describe('the curve', () => {
  it('named by the PKCS#8 wrapper, by the ECPrivateKey inside, or by both', async () => {
    const key = await source();
    for (const [how, der] of [
      ['outer only', pkcs8(sec1(key.d), P256_OID)],
      ['inner only', pkcs8(sec1(key.d, { curve: P256_OID }))],
      ['inner only, outer NULL', pkcs8(sec1(key.d, { curve: P256_OID }), tlv(0x05))],
      ['both', pkcs8(sec1(key.d, { curve: P256_OID }), P256_OID)],
      ['SEC1 alone', sec1(key.d, { curve: P256_OID })],
    ] as const) {
      expect(await calculateThumbprint(await importKeyPair(der)), how).toBe(key.thumbprint);
    }
  });

  it('named nowhere: refused, saying how to export it with its parameters', async () => {
    const key = await source();
    for (const der of [sec1(key.d), pkcs8(sec1(key.d)), pkcs8(sec1(key.d), tlv(0x05))]) {
      expect(await refusal(der)).toBe('Cannot import the key: the EC key does not name its curve. Export it with its parameters (openssl ec -param_enc named_curve).');
    }
  });

  it('another curve inside a P-256 wrapper, or the other way round: refused', async () => {
    const key = await source();
    const p384 = tlv(0x06, Buffer.from('2b81040022', 'hex'));
    expect(await refusal(pkcs8(sec1(key.d, { curve: p384 }), P256_OID))).toMatch(/an EC key on P-384, not P-256/);
    expect(await refusal(pkcs8(sec1(key.d, { curve: P256_OID }), p384))).toMatch(/an EC key on P-384, not P-256/);
    expect(await refusal(sec1(key.d, { curve: tlv(0x06, Buffer.from('2a0304', 'hex')) }))).toMatch(/an EC key on the curve 1\.2\.3\.4, not P-256/);
  });
});

describe('the public point stored with the key', () => {
  it('well formed: 65 bytes after 04, 33 after 02 or 03; any other length or prefix is a corrupt file', async () => {
    const key = await source();
    const compressed = Buffer.concat([Buffer.from([2 + (key.y[31]! & 1)]), key.x]);
    expect(await calculateThumbprint(await importKeyPair(sec1(key.d, { curve: P256_OID, point: key.point })))).toBe(key.thumbprint);
    expect(await calculateThumbprint(await importKeyPair(sec1(key.d, { curve: P256_OID, point: compressed })))).toBe(key.thumbprint);
    for (const point of [key.point.subarray(0, 64), Buffer.concat([key.point, Buffer.from([0])]), compressed.subarray(0, 32), Buffer.concat([compressed, Buffer.from([0])]), Buffer.concat([Buffer.from([4]), key.x])]) {
      expect(await refusal(sec1(key.d, { curve: P256_OID, point }))).toBe('Cannot import the key: the public key stored with the private key is malformed (the key file is corrupt). Export the key again.');
    }
  });

  it('in a JWK: x and y of 32 bytes each, or neither', async () => {
    const key = await source();
    const { d, x, y } = key.jwk;
    expect(await calculateThumbprint(await importKeyPair({ kty: 'EC', crv: 'P-256', d, x, y }))).toBe(key.thumbprint);
    expect(await calculateThumbprint(await importKeyPair({ kty: 'EC', crv: 'P-256', d }))).toBe(key.thumbprint);
    const short = Buffer.from(x!, 'base64url').subarray(1).toString('base64url');
    for (const members of [{ x }, { y }, { x: short, y }, { x, y: short }]) {
      expect(await refusal({ kty: 'EC', crv: 'P-256', d, ...members })).toMatch(/the JWK members "x" and "y" are not 32 bytes each/);
    }
    expect(await refusal({ kty: 'EC', crv: 'P-256', d, x: 5, y })).toMatch(/the JWK member "x" is not base64url/);
    expect(await refusal({ kty: 'EC', crv: 'P-256', d: 'not base64url!' })).toMatch(/the JWK member "d" is not base64url/);
    expect(await refusal({ crv: 'P-256', d })).toMatch(/a JWK without "kty"/);
    expect(await refusal({ kty: 'EC', d })).toMatch(/an EC JWK on undefined, not P-256/);
  });
});

describe('structures that are not a key', () => {
  const refused = 'Cannot import the key: the DER is not a PKCS#8 or SEC1 private key (it may be truncated or corrupt). DPoP here signs with ES256: give an EC P-256 private key, e.g. from `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` or generateKeyPair().';

  it('wrong tags, a wrong version, too few elements, or garbage inside: refused as no key, never another error', async () => {
    const key = await source();
    const ecWith = (version: Buffer, d: Buffer, ...rest: Buffer[]) => tlv(0x30, version, d, ...rest);
    for (const [what, der] of [
      ['the scalar in a BIT STRING', ecWith(tlv(0x02, Buffer.from([1])), tlv(0x03, key.d), tlv(0xa0, P256_OID))],
      ['the version as an OCTET STRING', ecWith(tlv(0x04, Buffer.from([1])), tlv(0x04, key.d), tlv(0xa0, P256_OID))],
      ['version 2', ecWith(tlv(0x02, Buffer.from([2])), tlv(0x04, key.d), tlv(0xa0, P256_OID))],
      ['the curve as an OCTET STRING', ecWith(tlv(0x02, Buffer.from([1])), tlv(0x04, key.d), tlv(0xa0, tlv(0x04, Buffer.from('2a8648ce3d030107', 'hex'))))],
      ['an empty SEQUENCE', tlv(0x30)],
      ['one INTEGER alone', tlv(0x30, tlv(0x02, Buffer.from([0])))],
      ['NULL then an INTEGER', tlv(0x30, tlv(0x05), tlv(0x02, Buffer.from([0])))],
      ['PKCS#8 around garbage', pkcs8(Buffer.from([0x30, 0x05, 0x02]), P256_OID)],
      ['PKCS#8 without its algorithm', tlv(0x30, tlv(0x02, Buffer.from([0])), tlv(0x30), tlv(0x04, sec1(key.d)))],
    ] as const) {
      expect(await refusal(new Uint8Array(der)), what).toBe(refused);
    }
  });

  it('an algorithm that is not EC, named by its OID when unknown', async () => {
    const key = await source();
    const other = tlv(0x30, tlv(0x02, Buffer.from([0])), tlv(0x30, tlv(0x06, Buffer.from('2a0304', 'hex'))), tlv(0x04, sec1(key.d)));
    expect(await refusal(other)).toMatch(/^Cannot import the key: a key of algorithm 1\.2\.3\.4\. DPoP here signs/);
  });

  it('PEM blocks that hold no private key: a certificate, another label', async () => {
    const body = Buffer.from(sec1((await source()).d, { curve: P256_OID })).toString('base64');
    expect(await refusal(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`)).toMatch(/^Cannot import the key: a certificate; a private key is needed to sign proofs\./);
    expect(await refusal(`-----BEGIN DSA PRIVATE KEY-----\n${body}\n-----END DSA PRIVATE KEY-----\n`)).toMatch(/^Cannot import the key: a PEM block labelled "DSA PRIVATE KEY"\./);
  });

  it('a JWK member that is not a string, even one that acts like one', async () => {
    const { d } = (await source()).jwk;
    expect(await refusal({ kty: 'EC', crv: 'P-256', d: { replace: () => d, toString: () => d } })).toMatch(/the JWK member "d" is not base64url/);
  });
});
