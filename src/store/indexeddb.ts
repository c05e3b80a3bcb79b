/**
 * Browser key persistence: keeps a non-extractable CryptoKeyPair in IndexedDB, which stores
 * CryptoKey objects by structured clone, so the private key never exists outside WebCrypto,
 * and a reloaded page proves with the same key (and so keeps its DPoP-bound tokens valid).
 *
 * Its own entry point, `dpop-fetch/indexeddb`: apps that do not import it do not ship it.
 *
 * @see https://w3c.github.io/webcrypto/#cryptokey-interface (CryptoKey is serializable)
 */
import {
  assertOptionalObject,
  assertOptionalString,
  assertSigningKeyPair,
  assertString,
  invalidType,
  invalidValue,
  isCryptoKeyPair,
  isObject,
} from '../assert.ts';
import { DPoPError } from '../errors.ts';
import { generateKeyPair } from '../keys/key.ts';

/** Where keys are kept. */
export interface KeyStoreOptions {
  /** IndexedDB database name. Default `dpop-fetch`. */
  database?: string | undefined;
  /** The IDBFactory to use. Default: the global `indexedDB`. */
  indexedDB?: IDBFactory | undefined;
}

const STORE = 'keys';
const DEFAULT_DATABASE = 'dpop-fetch';
const PROBE = new Uint8Array([0x64, 0x70, 0x6f, 0x70]);

function storeError(what: string, cause?: unknown): DPoPError {
  return new DPoPError('ERR_KEY_STORE', `The IndexedDB key store ${what}. Private browsing or storage settings may block IndexedDB; without it, keep the key in memory (generateKeyPair) and accept a new key per page load.`, { cause });
}

function checkOptions(options: KeyStoreOptions | undefined): void {
  assertOptionalObject(options, 'options');
  assertOptionalString(options?.database, 'options.database');
  const factory: unknown = options?.indexedDB;
  if (factory !== undefined && (!isObject(factory) || typeof factory.open !== 'function')) throw invalidType('options.indexedDB', 'an IDBFactory');
}

/** Opens the database at `version` (its current one when undefined), creating the store on upgrade. */
function openAt(factory: IDBFactory, name: string, version: number | undefined): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let request: IDBOpenDBRequest;
    try {
      request = version === undefined ? factory.open(name) : factory.open(name, version);
    } catch (err) {
      return reject(storeError('could not be opened', err));
    }
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
    };
    request.onsuccess = () => {
      const db = request.result;
      // Another tab upgrading the database must not wait on us.
      db.onversionchange = () => db.close();
      if (settled) db.close();
      else resolve(db);
    };
    request.onerror = () => {
      settled = true;
      reject(storeError('could not be opened', request.error));
    };
    request.onblocked = () => {
      settled = true;
      reject(storeError('is blocked by another tab holding an older version open; close other tabs of this app and retry'));
    };
  });
}

async function open(options: KeyStoreOptions | undefined): Promise<IDBDatabase> {
  const factory = options?.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) throw storeError('is not available in this runtime');
  const name = options?.database ?? DEFAULT_DATABASE;
  // No version asked: a database another version of this code (or anything else) left at a
  // higher version still opens. If it lacks our store, one upgrade adds it.
  const db = await openAt(factory, name, undefined);
  if (db.objectStoreNames.contains(STORE)) return db;
  const version = db.version + 1;
  db.close();
  return openAt(factory, name, version);
}

/** Runs one transaction on the key store and closes the database afterwards. */
async function transact<T>(options: KeyStoreOptions | undefined, mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest | void, pick: (store: IDBObjectStore, last: unknown) => T): Promise<T> {
  const db = await open(options);
  try {
    return await new Promise<T>((resolve, reject) => {
      try {
        const tx = db.transaction(STORE, mode);
        const store = tx.objectStore(STORE);
        const request = work(store);
        let result: T;
        if (request) request.onsuccess = () => (result = pick(store, request.result));
        tx.oncomplete = () => resolve(result);
        tx.onerror = () => reject(storeError('failed', tx.error ?? request?.error));
        tx.onabort = () => reject(storeError('failed', tx.error));
      } catch (err) {
        // e.g. a store created by other code with a key path, which refuses out-of-line keys.
        reject(storeError('failed', err));
      }
    });
  } finally {
    db.close();
  }
}

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
  const value = await transact(options, 'readonly', (store) => store.get(name), (_, v) => v);
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
  await transact(options, 'readwrite', (store) => store.put(record(keyPair), name), () => undefined);
}

/**
 * Removes the key pair stored under `name` (e.g. at logout, so tokens bound to it die with it).
 *
 * @param name the key's name in the store.
 * @param options where keys are kept.
 * @example
 * await deleteKeyPair('api');
 */
export async function deleteKeyPair(name: string, options?: KeyStoreOptions): Promise<void> {
  assertString(name, 'name');
  checkOptions(options);
  await transact(options, 'readwrite', (store) => store.delete(name), () => undefined);
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
    'readwrite',
    (store) => store.get(name),
    (store, current) => {
      if (hasPairShape(current)) return current;
      store.put(record(fresh), name);
      return fresh;
    },
  );
  if (kept === fresh || (await usable(kept))) return kept;
  // A well-formed entry whose halves do not match: replace it.
  await putKeyPair(name, fresh, options);
  return fresh;
}
