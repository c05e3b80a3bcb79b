/**
 * Files the CLI reads and writes: key files (any format importKeyPair or importClientKey takes,
 * encrypted ones with a password from a file or the environment), request bodies
 * (`-d @file`, `-d @-`), and new keys from `dpop-fetch keygen` (PKCS#8 PEM, mode 0600).
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import process from 'node:process';
import { calculateThumbprint, DPoPError, generateKeyPair, importClientKey, importKeyPair, type AssertionAlg } from '../index.ts';
import { one, type Invocation, type Setting } from './args.ts';
import { Failure, isDenoPermission } from './errors.ts';

const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  EEXIST: 'it already exists',
  ENOTDIR: 'a part of the path is not a directory',
};

function fsReason(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return (typeof code === 'string' && Object.hasOwn(FS_REASONS, code) && FS_REASONS[code]) || (err instanceof Error ? err.message : String(err));
}

/** The bytes of a file named by a setting, or a {@link Failure} that names the setting. */
export async function readSetting(path: string, from: string, what: string, hint = ''): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    if (isDenoPermission(err)) throw err; // explained as a missing deno run flag
    throw new Failure(`cannot read ${what} "${path}" (${fsReason(err)}); check ${from}${hint}`);
  }
}

/** All of stdin (for `-d @-`). */
export async function readStdin(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : new Uint8Array(chunk as Uint8Array));
  return concat(chunks);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * The password for the key a setting names (`key` or `client-key`): the first line of its
 * `--…-password-file`, else its variable (DPOP_KEY_PASSWORD, DPOP_CLIENT_KEY_PASSWORD). Never a
 * flag value: `ps` shows those to every user of the machine.
 */
export async function passwordFor(invocation: Invocation, name: 'key' | 'client-key'): Promise<string | undefined> {
  const file = one(invocation, `${name}-password-file`);
  if (file) return new TextDecoder().decode(await readSetting(file.value, file.from, 'the password file')).split(/\r?\n/)[0];
  return one(invocation, `${name}-password`)?.value;
}

/**
 * Loads a private key from the file a setting names: PEM and JWK as text, anything else as
 * DER. The DPoP key (`key`) is P-256; the client key (`client-key`) may be RSA, for `alg`. The
 * private key stays non-extractable.
 */
export async function loadKey(setting: Setting, options: { client?: boolean; password?: string | undefined; alg?: string | undefined } = {}): Promise<CryptoKeyPair> {
  const what = options.client ? 'the client key' : 'the key file';
  const bytes = await readSetting(setting.value, setting.from, what, options.client ? '' : ', or make a key with dpop-fetch keygen --out <file>');
  const text = new TextDecoder().decode(bytes);
  const input = /^\s*(-----BEGIN|\{)/.test(text) ? text : bytes;
  const passwordFrom = options.client ? 'DPOP_CLIENT_KEY_PASSWORD or --client-key-password-file' : 'DPOP_KEY_PASSWORD or --key-password-file';
  try {
    return options.client
      ? await importClientKey(input, { password: options.password, alg: options.alg as AssertionAlg | undefined })
      : await importKeyPair(input, { password: options.password });
  } catch (err) {
    if (err instanceof DPoPError && err.code === 'ERR_KEY_IMPORT') {
      // "Cannot import the key: <what>. <what to do>." → "<file>: <what>; <what to do>"
      const detail = err.message
        .replace(/^Cannot import the (client )?key: /, '')
        .replace(/\.\s+(?:([A-Z])(?=[a-z]))?/, (_, initial?: string) => `; ${initial?.toLowerCase() ?? ''}`)
        .replace(/\.$/, '')
        .replace('options.password', passwordFrom)
        .replace('generateKeyPair()', 'dpop-fetch keygen');
      throw new Failure(`cannot use ${what} "${setting.value}" (${setting.from}): ${detail}`);
    }
    throw err;
  }
}

/** PEM armour (RFC 7468 §2): base64 in 64-character lines. */
function pem(label: string, der: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...der));
  return `-----BEGIN ${label}-----\n${base64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

/** A new P-256 key as PKCS#8 PEM, and its RFC 7638 thumbprint. */
export async function newKey(): Promise<{ pem: string; thumbprint: string }> {
  const keyPair = await generateKeyPair({ extractable: true });
  const [pkcs8, thumbprint] = await Promise.all([crypto.subtle.exportKey('pkcs8', keyPair.privateKey), calculateThumbprint(keyPair)]);
  return { pem: pem('PRIVATE KEY', new Uint8Array(pkcs8)), thumbprint };
}

/** Writes a private key to a new file that only its owner can read; never overwrites. */
export async function writeKeyFile(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
    await chmod(path, 0o600); // the mode above is filtered by umask; this makes it exact
  } catch (err) {
    if (isDenoPermission(err)) throw err;
    const exists = (err as { code?: unknown }).code === 'EEXIST';
    throw new Failure(
      exists
        ? `"${path}" already exists; choose another --out, or remove the old key first (tokens may be bound to it)`
        : `cannot write the key to "${path}" (${fsReason(err)}); choose another --out`,
    );
  }
}
