/**
 * Browser key persistence: keeps a non-extractable CryptoKeyPair in IndexedDB, which stores
 * CryptoKey objects by structured clone, so the private key never exists outside WebCrypto,
 * and a reloaded page proves with the same key (and so keeps its DPoP-bound tokens valid).
 *
 * Its own entry point, `dpop-fetch/indexeddb`: apps that do not import it do not ship it.
 *
 * @see https://w3c.github.io/webcrypto/#cryptokey-interface (CryptoKey is serializable)
 */
import { assertOptionalObject, assertOptionalString, assertSigningKeyPair, assertString, isCryptoKeyPair } from '../assert.ts';
import { DPoPError, ErrorCode } from '../errors.ts';
import { generateKeyPair } from '../key.ts';

/** Where keys are kept. */
export interface KeyStoreOptions {
  /** IndexedDB database name. Default `dpop-fetch`. */
  database?: string | undefined;
  /** The IDBFactory to use. Default: the global `indexedDB`. */
  indexedDB?: IDBFactory | undefined;
}

const STORE = 'keys';

function storeError(what: string, cause?: unknown): DPoPError {
  return new DPoPError(ErrorCode.KEY_STORE, `The IndexedDB key store ${what}. Private browsing or storage settings may block IndexedDB; without it, keep the key in memory (generateKeyPair) and accept a new key per page load.`, { cause });
}

function open(options: KeyStoreOptions | undefined): Promise<IDBDatabase> {
  assertOptionalObject(options, 'options');
  assertOptionalString(options?.database, 'options.database');
  const factory = options?.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) return Promise.reject(storeError('is not available in this runtime'));
  return new Promise((resolve, reject) => {
    let request: IDBOpenDBRequest;
    try {
      request = factory.open(options?.database ?? 'dpop-fetch', 1);
    } catch (err) {
      return reject(storeError('could not be opened', err));
    }
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(storeError('could not be opened', request.error));
    request.onblocked = () => reject(storeError('is blocked by another tab holding an older version open'));
  });
}

/** Runs one transaction on the key store and closes the database afterwards. */
async function transact<T>(options: KeyStoreOptions | undefined, mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest | void, pick: (store: IDBObjectStore, last: unknown) => T): Promise<T> {
  const db = await open(options);
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const store = tx.objectStore(STORE);
      const request = work(store);
      let result: T;
      if (request) request.onsuccess = () => (result = pick(store, request.result));
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(storeError('failed', tx.error));
      tx.onabort = () => reject(storeError('failed', tx.error));
    });
  } finally {
    db.close();
  }
}

/** A stored value we can use: a P-256 signing pair whose private key is non-extractable. */
function usable(value: unknown): value is CryptoKeyPair {
  if (!isCryptoKeyPair(value)) return false;
  try {
    assertSigningKeyPair(value, 'stored');
    return !value.privateKey.extractable;
  } catch {
    return false;
  }
}

/**
 * Loads the key pair stored under `name`.
 *
 * @returns the pair, or undefined when nothing usable is stored (missing, or corrupt).
 * @example
 * const keyPair = await getKeyPair('api');
 */
export async function getKeyPair(name: string, options?: KeyStoreOptions): Promise<CryptoKeyPair | undefined> {
  assertString(name, 'name');
  const value = await transact(options, 'readonly', (store) => store.get(name), (_, v) => v);
  return usable(value) ? value : undefined;
}

/**
 * Stores a key pair under `name`, replacing what was there.
 *
 * @example
 * await putKeyPair('api', await generateKeyPair());
 */
export async function putKeyPair(name: string, keyPair: CryptoKeyPair, options?: KeyStoreOptions): Promise<void> {
  assertString(name, 'name');
  assertSigningKeyPair(keyPair, 'keyPair');
  await transact(options, 'readwrite', (store) => store.put({ privateKey: keyPair.privateKey, publicKey: keyPair.publicKey }, name), () => undefined);
}

/**
 * Removes the key pair stored under `name` (e.g. at logout, so tokens bound to it die with it).
 *
 * @example
 * await deleteKeyPair('api');
 */
export async function deleteKeyPair(name: string, options?: KeyStoreOptions): Promise<void> {
  assertString(name, 'name');
  await transact(options, 'readwrite', (store) => store.delete(name), () => undefined);
}

/**
 * Returns the key pair stored under `name`, or generates a non-extractable one and stores it.
 * A missing or corrupt entry is replaced. Two tabs racing get the same key: the check and the
 * write happen in one transaction.
 *
 * @param options `name` of the key (default `default`), and where to keep it.
 * @example
 * const keyPair = await loadOrCreateKeyPair({ name: 'api' });
 * const api = createDPoPFetch({ keyPair, tokens });
 */
export async function loadOrCreateKeyPair(options?: KeyStoreOptions & { name?: string | undefined }): Promise<CryptoKeyPair> {
  assertOptionalObject(options, 'options');
  assertOptionalString(options?.name, 'options.name');
  const name = options?.name ?? 'default';
  const existing = await getKeyPair(name, options);
  if (existing) return existing;
  const fresh = await generateKeyPair();
  return transact(
    options,
    'readwrite',
    (store) => store.get(name),
    (store, current) => {
      if (usable(current)) return current;
      store.put({ privateKey: fresh.privateKey, publicKey: fresh.publicKey }, name);
      return fresh;
    },
  );
}
