/**
 * Browser key persistence: keeps a non-extractable CryptoKeyPair in IndexedDB, which stores
 * CryptoKey objects by structured clone, so the private key never exists outside WebCrypto,
 * and a reloaded page proves with the same key (and so keeps its DPoP-bound tokens valid).
 *
 * Part of its own entry point, `dpop-fetch/indexeddb`: apps that do not import it do not ship it.
 *
 * @see https://w3c.github.io/webcrypto/#cryptokey-interface (CryptoKey is serializable)
 */
import { assertOptionalObject, assertOptionalString, assertSigningKeyPair, assertString, invalidValue, isCryptoKeyPair } from '../assert.ts';
import { generateKeyPair } from '../keys/key.ts';
import { announceSignOut, checkWhere as checkOptions, DEFAULT_DATABASE, entriesOf, KEYS, SHARED, transact, type KeyStoreOptions } from './idb.ts';

export type { KeyStoreOptions };

const PROBE = new Uint8Array([0x64, 0x70, 0x6f, 0x70]);

/** The shape we store: a P-256 signing pair whose private key is non-extractable. */
function hasPairShape(value: unknown): value is CryptoKeyPair {
  if (!isCryptoKeyPair(value)) return false;
  try {
    assertSigningKeyPair(value, 'stored');
    return !value.privateKey.extractable;
  } catch {
    return false;
  }
}

/** A pair we can prove with: the right shape, and the two halves belong together. */
async function usable(value: unknown): Promise<boolean> {
  if (!hasPairShape(value)) return false;
  const algorithm = { name: 'ECDSA', hash: 'SHA-256' };
  try {
    // Public keys are always exportable; re-importing gives a verify key whatever the stored usages.
    const jwk = await crypto.subtle.exportKey('jwk', value.publicKey);
    const verifier = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    const signature = await crypto.subtle.sign(algorithm, value.privateKey, PROBE);
    return await crypto.subtle.verify(algorithm, verifier, signature, PROBE);
  } catch {
    return false;
  }
}

/**
 * Loads the key pair stored under `name`.
 *
 * @param name the key's name in the store.
 * @param options where keys are kept.
 * @returns the pair, or undefined when nothing usable is stored: missing, or corrupt (not a
 *   non-extractable P-256 signing pair, or halves that do not belong together).
 * @example
 * const keyPair = await getKeyPair('api');
 */
export async function getKeyPair(name: string, options?: KeyStoreOptions): Promise<CryptoKeyPair | undefined> {
  assertString(name, 'name');
  checkOptions(options);
  const value = await transact(options, [KEYS], 'readonly', (tx) => tx.objectStore(KEYS).get(name), (_, v) => v);
  return (await usable(value)) ? (value as CryptoKeyPair) : undefined;
}

/**
 * Stores a key pair under `name`, replacing what was there.
 *
 * @param name the key's name in the store.
 * @param keyPair an ECDSA P-256 pair, e.g. from generateKeyPair().
 * @param options where keys are kept.
 * @example
 * await putKeyPair('api', await generateKeyPair());
 */
export async function putKeyPair(name: string, keyPair: CryptoKeyPair, options?: KeyStoreOptions): Promise<void> {
  assertString(name, 'name');
  assertSigningKeyPair(keyPair, 'keyPair');
  if (keyPair.privateKey.extractable) {
    throw invalidValue('keyPair.privateKey', 'must be non-extractable to be stored (generateKeyPair() and importKeyPair() give such keys)');
  }
  checkOptions(options);
  await transact(options, [KEYS], 'readwrite', (tx) => tx.objectStore(KEYS).put(record(keyPair), name), () => undefined);
}

/**
 * Signs out: removes the key pair stored under `name`, so tokens bound to it die with it, and
 * in the same transaction every entry the tabs share under that name (`indexedDbStore({ name })`:
 * the access token, the refresh token, the nonces). Every tab of the origin is told: its next
 * request that needs a token rejects with `ERR_LOGIN_REQUIRED`, and none reaches the API with one.
 *
 * @param name the key's name in the store.
 * @param options where keys are kept.
 * @example
 * await deleteKeyPair('app'); // "Sign out", in any tab
 */
export async function deleteKeyPair(name: string, options?: KeyStoreOptions): Promise<void> {
  assertString(name, 'name');
  checkOptions(options);
  await transact(
    options,
    [KEYS, SHARED],
    'readwrite',
    (tx) => {
      tx.objectStore(KEYS).delete(name);
      tx.objectStore(SHARED).delete(entriesOf(name));
    },
    () => undefined,
  );
  announceSignOut(options?.database ?? DEFAULT_DATABASE, name);
}

/** What is stored: the two CryptoKeys, structured-cloned by IndexedDB (still non-extractable). */
function record(keyPair: CryptoKeyPair): CryptoKeyPair {
  return { privateKey: keyPair.privateKey, publicKey: keyPair.publicKey };
}

/**
 * Returns the key pair stored under `name`, or generates a non-extractable one and stores it.
 * A missing or corrupt entry is replaced by a new key, never an error. Two tabs racing get
 * the same key: the re-check and the write happen in one transaction.
 *
 * @param options `name` of the key (default `default`), and where to keep it.
 * @returns a P-256 pair whose private key cannot be exported.
 * @example
 * const keyPair = await loadOrCreateKeyPair({ name: 'api' });
 * const api = createDPoPFetch({ keyPair, tokens });
 */
export async function loadOrCreateKeyPair(options?: KeyStoreOptions & { name?: string | undefined }): Promise<CryptoKeyPair> {
  assertOptionalObject(options, 'options');
  assertOptionalString(options?.name, 'options.name');
  checkOptions(options);
  const name = options?.name ?? 'default';
  const existing = await getKeyPair(name, options);
  if (existing) return existing;
  const fresh = await generateKeyPair();
  // WebCrypto calls cannot run inside an IndexedDB transaction (it would commit meanwhile), so
  // the transaction checks the shape only and the halves are checked after it.
  const kept = await transact(
    options,
    [KEYS],
    'readwrite',
    (tx) => tx.objectStore(KEYS).get(name),
    (tx, current) => {
      if (hasPairShape(current)) return current;
      tx.objectStore(KEYS).put(record(fresh), name);
      return fresh;
    },
  );
  if (kept === fresh || (await usable(kept))) return kept;
  // A well-formed entry whose halves do not match: replace it.
  await putKeyPair(name, fresh, options);
  return fresh;
}
