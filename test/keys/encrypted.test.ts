// Encrypted private keys (src/keys/encrypted.ts), as the seed's LoadAnyFormatFile(path, password)
// reads them: made at test time by the `openssl` command line and by node:crypto for each
// cipher, decrypted by importKeyPair / importClientKey with WebCrypto alone, and judged by
// node:crypto: the imported key must be the one that was encrypted.
import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { execFileSync } from 'node:child_process';
import { createDecipheriv, generateKeyPairSync, pbkdf2Sync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { calculateThumbprint, importClientKey, importKeyPair } from '../../src/index.ts';
import { caught } from '../helpers.ts';

const PASSWORD = 'correct horse · battery staple'; // non-ASCII: OpenSSL takes the UTF-8 bytes
const dir = mkdtempSync(join(tmpdir(), 'dpop-fetch-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `openssl` with the password in a file (never on the command line) and returns the output file. */
function openssl(args: string[], out: string): string {
  const pass = join(dir, 'pass.txt');
  // Twice: given as both -passin and -passout, openssl reads one line for each.
  writeFileSync(pass, `${PASSWORD}\n${PASSWORD}\n`);
  execFileSync('openssl', args.map((a) => a.replace('@pass', `file:${pass}`)).concat('-out', join(dir, out)), { stdio: ['ignore', 'ignore', 'pipe'] });
  return readFileSync(join(dir, out), 'utf8');
}

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecThumbprint = await jose.calculateJwkThumbprint(ec.publicKey.export({ format: 'jwk' }) as jose.JWK);
const plainEc = join(dir, 'ec.pem');
writeFileSync(plainEc, ec.privateKey.export({ format: 'pem', type: 'pkcs8' }));

/** The object identifiers in an encrypted PEM besides PBES2 and PBKDF2: the PRF (none: HMAC-SHA-1) and the cipher. */
function scheme(pem: string): string {
  const dump = execFileSync('openssl', ['asn1parse'], { input: pem, encoding: 'utf8' });
  return [...dump.matchAll(/OBJECT\s+:(\S+)/g)].map((m) => m[1]).filter((n) => n !== 'PBES2' && n !== 'PBKDF2').join(' ');
}

describe('importKeyPair with a password: encrypted PKCS#8 (PBES2)', () => {
  it('decrypts keys made by the openssl command line: genpkey -aes-256-cbc, and pkcs8 -topk8 with each AES and HMAC-SHA-1 or -SHA-256', async () => {
    const made = {
      'openssl genpkey -aes-256-cbc': openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-aes-256-cbc', '-pass', '@pass'], 'gen.pem'),
      'openssl pkcs8 -topk8 -v2 aes-128-cbc -v2prf hmacWithSHA1': openssl(['pkcs8', '-topk8', '-in', plainEc, '-v2', 'aes-128-cbc', '-v2prf', 'hmacWithSHA1', '-passout', '@pass'], 'a128.pem'),
      'openssl pkcs8 -topk8 -v2 aes-192-cbc': openssl(['pkcs8', '-topk8', '-in', plainEc, '-v2', 'aes-192-cbc', '-passout', '@pass'], 'a192.pem'),
      'openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -iter 100000': openssl(['pkcs8', '-topk8', '-in', plainEc, '-v2', 'aes-256-cbc', '-v2prf', 'hmacWithSHA256', '-iter', '100000', '-passout', '@pass'], 'a256.pem'),
    };
    expect(scheme(made['openssl pkcs8 -topk8 -v2 aes-128-cbc -v2prf hmacWithSHA1'])).toBe('aes-128-cbc'); // no PRF named: HMAC-SHA-1
    expect(scheme(made['openssl pkcs8 -topk8 -v2 aes-192-cbc'])).toBe('hmacWithSHA256 aes-192-cbc');
    expect(scheme(made['openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -iter 100000'])).toBe('hmacWithSHA256 aes-256-cbc');
    for (const [how, pem] of Object.entries(made)) {
      expect(pem, how).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      const keyPair = await importKeyPair(pem, { password: PASSWORD });
      if (how.startsWith('openssl genpkey')) {
        // A key made by openssl itself: compare with what openssl says its public key is.
        const spki = execFileSync('openssl', ['pkey', '-pubout', '-passin', `pass:${PASSWORD}`], { input: pem, encoding: 'utf8' });
        expect(await calculateThumbprint(keyPair)).toBe(await jose.calculateJwkThumbprint(await jose.exportJWK(await jose.importSPKI(spki, 'ES256'))));
      } else {
        expect(await calculateThumbprint(keyPair), how).toBe(ecThumbprint);
      }
      expect(keyPair.privateKey.extractable).toBe(false);
    }
  });

  it('decrypts keys node:crypto encrypts with each cipher, as PEM and as DER', async () => {
    for (const cipher of ['aes-128-cbc', 'aes-192-cbc', 'aes-256-cbc']) {
      const pem = ec.privateKey.export({ format: 'pem', type: 'pkcs8', cipher, passphrase: PASSWORD }) as string;
      const der = ec.privateKey.export({ format: 'der', type: 'pkcs8', cipher, passphrase: PASSWORD });
      expect(scheme(pem)).toBe(`hmacWithSHA256 ${cipher}`);
      expect(await calculateThumbprint(await importKeyPair(pem, { password: PASSWORD })), cipher).toBe(ecThumbprint);
      expect(await calculateThumbprint(await importKeyPair(new Uint8Array(der), { password: PASSWORD })), cipher).toBe(ecThumbprint);
    }
  });

  it('a wrong password → ERR_KEY_IMPORT saying the password is wrong (every cipher, 50 wrong passwords: none slips through)', async () => {
    for (const cipher of ['aes-128-cbc', 'aes-192-cbc', 'aes-256-cbc']) {
      const pem = ec.privateKey.export({ format: 'pem', type: 'pkcs8', cipher, passphrase: PASSWORD }) as string;
      for (let i = 0; i < (cipher === 'aes-256-cbc' ? 50 : 3); i++) {
        const err = await caught(() => importKeyPair(pem, { password: `wrong ${i}` }));
        expect(err).toMatchObject({ code: 'ERR_KEY_IMPORT', message: 'Cannot import the key: the password is wrong (the key did not decrypt). Check the password.' });
      }
    }
  });

  it('a wrong password whose decryption happens to end in valid padding (about 1 in 256) → still "the password is wrong", not a garbled key', async () => {
    const der = ec.privateKey.export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: PASSWORD });
    // Find such a password with node:crypto alone, reading the parameters openssl wrote.
    const dump = execFileSync('openssl', ['asn1parse', '-inform', 'DER'], { input: der, encoding: 'utf8' });
    const hex = [...dump.matchAll(/\[HEX DUMP\]:([0-9A-F]+)/g)].map((m) => Buffer.from(m[1]!, 'hex'));
    const iterations = parseInt(/INTEGER\s+:([0-9A-F]+)/.exec(dump)![1]!, 16);
    const [salt, iv, data] = hex as [Buffer, Buffer, Buffer];
    let lucky: string | undefined;
    for (let i = 0; !lucky; i++) {
      const decipher = createDecipheriv('aes-256-cbc', pbkdf2Sync(`guess ${i}`, salt, iterations, 32, 'sha256'), iv);
      try {
        Buffer.concat([decipher.update(data), decipher.final()]);
        lucky = `guess ${i}`;
      } catch {
        // bad padding: the usual wrong password
      }
    }
    expect(await caught(() => importKeyPair(new Uint8Array(der), { password: lucky }))).toMatchObject({ code: 'ERR_KEY_IMPORT', message: 'Cannot import the key: the password is wrong (the key did not decrypt). Check the password.' });
  });

  it('no password for an encrypted key → ERR_KEY_IMPORT asking for it; a password for a plain key is not needed and ignored', async () => {
    const pem = ec.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: PASSWORD }) as string;
    expect(await caught(() => importKeyPair(pem))).toMatchObject({ code: 'ERR_KEY_IMPORT', message: 'Cannot import the key: the key is encrypted. Give its password (options.password).' });
    expect(await calculateThumbprint(await importKeyPair(readFileSync(plainEc, 'utf8'), { password: 'unused' }))).toBe(ecThumbprint);
  });

  it("OpenSSL's legacy encrypted PEM (Proc-Type: 4,ENCRYPTED, MD5-based) → ERR_KEY_IMPORT with the openssl command that converts it", async () => {
    const legacy: Record<string, string> = {
      'node:crypto SEC1 with a cipher': ec.privateKey.export({ format: 'pem', type: 'sec1', cipher: 'aes-256-cbc', passphrase: PASSWORD }) as string,
      'openssl ec -aes256': openssl(['ec', '-in', plainEc, '-aes256', '-passout', '@pass'], 'legacy.pem'),
    };
    // OpenSSL skips spaces and tabs around the "4," (pem_lib.c): those forms are read by OpenSSL too.
    for (const [i, spaced] of ['Proc-Type:4,ENCRYPTED', 'Proc-Type: \t4, \tENCRYPTED'].entries()) {
      const pem = legacy['openssl ec -aes256']!.replace('Proc-Type: 4,ENCRYPTED', spaced);
      writeFileSync(join(dir, `spaced-${i}.pem`), pem);
      openssl(['ec', '-in', join(dir, `spaced-${i}.pem`), '-passin', '@pass'], `spaced-${i}-plain.pem`);
      legacy[JSON.stringify(spaced)] = pem;
    }
    for (const [how, pem] of Object.entries(legacy)) {
      expect(pem, how).toMatch(/Proc-Type:[ \t]*4,[ \t]*ENCRYPTED/);
      const err = await caught(() => importKeyPair(pem, { password: PASSWORD }));
      expect(err.code, how).toBe('ERR_KEY_IMPORT');
      expect(err.message, how).toBe(
        "Cannot import the key: the key is encrypted in OpenSSL's legacy form (Proc-Type: 4,ENCRYPTED), whose key derivation needs MD5, which WebCrypto does not have. Convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key.p8.pem` (or decrypt it with `openssl pkey -in key.pem -out plain.pem`).",
      );
    }
    // The command it names really converts the key into one that imports.
    const converted = openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', join(dir, 'legacy.pem'), '-passin', '@pass', '-passout', '@pass'], 'converted.pem');
    expect(await calculateThumbprint(await importKeyPair(converted, { password: PASSWORD }))).toBe(ecThumbprint);
  });

  it('schemes WebCrypto cannot decrypt (scrypt, PKCS#12 PBE with 3DES) → ERR_KEY_IMPORT naming the scheme and the conversion', async () => {
    const scrypt = openssl(['pkcs8', '-topk8', '-in', plainEc, '-scrypt', '-passout', '@pass'], 'scrypt.pem');
    const pbe = openssl(['pkcs8', '-topk8', '-in', plainEc, '-v1', 'PBE-SHA1-3DES', '-passout', '@pass'], 'pbe.pem');
    expect((await caught(() => importKeyPair(scrypt, { password: PASSWORD }))).message).toMatch(/^Cannot import the key: the key's password is derived with scrypt, which WebCrypto does not have\. Convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc/);
    expect((await caught(() => importKeyPair(pbe, { password: PASSWORD }))).message).toMatch(/^Cannot import the key: the key is encrypted with PBES1 or PKCS#12 \(MD5, DES or RC2\), which WebCrypto cannot decrypt\. Convert it with `openssl pkcs8/);
  });

  it('a corrupt encrypted key → ERR_KEY_IMPORT, never a crash', async () => {
    const der = new Uint8Array(ec.privateKey.export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: PASSWORD }));
    for (let i = 0; i < der.length; i += 7) {
      const bad = der.slice();
      bad[i] ^= 0x41;
      const result = await importKeyPair(bad, { password: PASSWORD }).then(() => 'imported', (err: { code?: string }) => err.code);
      // A flipped byte in the salt or ciphertext is a wrong password; in the structure, corrupt.
      expect(['ERR_KEY_IMPORT', 'imported'], `byte ${i}`).toContain(result);
    }
    expect(await caught(() => importKeyPair(der.slice(0, 40), { password: PASSWORD }))).toMatchObject({ code: 'ERR_KEY_IMPORT' });
  });
});

describe('importClientKey with a password: encrypted RSA and EC client keys', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const same = async (pair: CryptoKeyPair, source: KeyObject) => {
    const { n, e } = await crypto.subtle.exportKey('jwk', pair.publicKey);
    const expected = source.export({ format: 'jwk' });
    expect({ n, e }).toEqual({ n: expected.n, e: expected.e });
  };

  it('decrypts an RSA key from openssl and from node:crypto (each cipher), for RS256 and PS256', async () => {
    const plainRsa = join(dir, 'rsa.pem');
    writeFileSync(plainRsa, rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const pems = [
      openssl(['pkcs8', '-topk8', '-in', plainRsa, '-v2', 'aes-256-cbc', '-passout', '@pass'], 'rsa-enc.pem'),
      ...['aes-128-cbc', 'aes-192-cbc', 'aes-256-cbc'].map((cipher) => rsa.privateKey.export({ format: 'pem', type: 'pkcs8', cipher, passphrase: PASSWORD }) as string),
    ];
    for (const pem of pems) {
      await same(await importClientKey(pem, { password: PASSWORD }), rsa.publicKey);
      const ps = await importClientKey(pem, { password: PASSWORD, alg: 'PS256' });
      const jwt = await new jose.SignJWT({}).setProtectedHeader({ alg: 'PS256' }).sign(ps.privateKey);
      await jose.jwtVerify(jwt, rsa.publicKey, { algorithms: ['PS256'] });
    }
  });

  it('an encrypted EC client key, a wrong password, and the legacy RSA form', async () => {
    const ecPem = ec.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: PASSWORD }) as string;
    expect(await calculateThumbprint(await importClientKey(ecPem, { password: PASSWORD }))).toBe(ecThumbprint);
    const rsaPem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: PASSWORD }) as string;
    expect((await caught(() => importClientKey(rsaPem, { password: 'nope' }))).message).toBe('Cannot import the key: the password is wrong (the key did not decrypt). Check the password.');
    const legacy = rsa.privateKey.export({ format: 'pem', type: 'pkcs1', cipher: 'aes-256-cbc', passphrase: PASSWORD }) as string;
    expect((await caught(() => importClientKey(legacy, { password: PASSWORD }))).message).toMatch(/legacy form \(Proc-Type: 4,ENCRYPTED\).*`openssl pkcs8 -topk8 -v2 aes-256-cbc -in key\.pem -out key\.p8\.pem`/);
  });
});
