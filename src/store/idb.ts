/**
 * The IndexedDB database of `dpop-fetch/indexeddb`: the key pairs (object store `keys`, by name)
 * and what the tabs of an app share (object store `shared`: `[name, key]` → a value and its
 * expiry), opened with both stores; and the sign-out that tells every tab of the origin that an
 * app's key and tokens are gone (issue 16).
 */
import { assertOptionalObject, assertOptionalString, invalidType, isObject } from '../assert.ts';
import { DPoPError } from '../errors.ts';

/** Where keys (and the tabs' shared entries) are kept. */
export interface KeyStoreOptions {
  /** IndexedDB database name. Default `dpop-fetch`. */
  database?: string | undefined;
  /** The IDBFactory to use. Default: the global `indexedDB`. */
  indexedDB?: IDBFactory | undefined;
}

export const KEYS = 'keys';
export const SHARED = 'shared';
const STORES = [KEYS, SHARED];
export const DEFAULT_DATABASE = 'dpop-fetch';

export function storeError(what: string, cause?: unknown): DPoPError {
  return new DPoPError('ERR_KEY_STORE', `The IndexedDB key store ${what}. Private browsing or storage settings may block IndexedDB; without it, keep the key in memory (generateKeyPair) and accept a new key per page load.`, { cause });
}

export function checkWhere(options: KeyStoreOptions | undefined): void {
  assertOptionalObject(options, 'options');
  assertOptionalString(options?.database, 'options.database');
  const factory: unknown = options?.indexedDB;
  if (factory !== undefined && (!isObject(factory) || typeof factory.open !== 'function')) throw invalidType('options.indexedDB', 'an IDBFactory');
}

/** Opens the database at `version` (its current one when undefined), creating our stores on upgrade. */
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
      for (const store of STORES) if (!request.result.objectStoreNames.contains(store)) request.result.createObjectStore(store);
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

/** Opens the database with both of our stores. */
export async function open(options: KeyStoreOptions | undefined): Promise<IDBDatabase> {
  const factory = options?.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) throw storeError('is not available in this runtime');
  const name = options?.database ?? DEFAULT_DATABASE;
  // No version asked: a database another version of this code (or anything else) left at a
  // higher version still opens. If it lacks one of our stores, one upgrade adds them.
  const db = await openAt(factory, name, undefined);
  if (STORES.every((store) => db.objectStoreNames.contains(store))) return db;
  const version = db.version + 1;
  db.close();
  return openAt(factory, name, version);
}

/**
 * One transaction on `db`: `work` makes its requests, `pick` turns the last one's result (when
 * `work` returns one) into the answer, which resolves once the transaction has committed.
 */
export function run<T>(db: IDBDatabase, stores: string[], mode: IDBTransactionMode, work: (tx: IDBTransaction) => IDBRequest | void, pick: (tx: IDBTransaction, last: unknown) => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      const tx = db.transaction(stores, mode);
      const request = work(tx);
      let result: T;
      if (request) request.onsuccess = () => (result = pick(tx, request.result));
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(storeError('failed', tx.error ?? request?.error));
      tx.onabort = () => reject(storeError('failed', tx.error));
    } catch (err) {
      // e.g. a store created by other code with a key path, which refuses out-of-line keys.
      reject(storeError('failed', err));
    }
  });
}

/** Opens the database, runs one transaction, and closes it. */
export async function transact<T>(options: KeyStoreOptions | undefined, stores: string[], mode: IDBTransactionMode, work: (tx: IDBTransaction) => IDBRequest | void, pick: (tx: IDBTransaction, last: unknown) => T): Promise<T> {
  const db = await open(options);
  try {
    return await run(db, stores, mode, work, pick);
  } finally {
    db.close();
  }
}

/** Every `[name, key]` entry of the shared store that belongs to `name`. */
export const entriesOf = (name: string): IDBKeyRange => IDBKeyRange.bound([name], [name, []]); // strings sort before arrays

// Sign-out: this realm's stores, told at once, and the other tabs of the origin, by message.
const listeners = new Map<string, Set<() => void>>();
const channels = new Map<string, BroadcastChannel>();
const scope = (database: string, name: string) => JSON.stringify([database, name]);
const notify = (database: string, name: string) => listeners.get(scope(database, name))?.forEach((listener) => listener());

function channel(database: string): BroadcastChannel | undefined {
  if (typeof BroadcastChannel !== 'function') return undefined;
  let open = channels.get(database);
  if (!open) {
    open = new BroadcastChannel(`dpop-fetch ${database}`);
    open.onmessage = ({ data }: MessageEvent) => {
      const name = isObject(data) ? data.signedOut : undefined;
      if (typeof name === 'string') notify(database, name);
    };
    channels.set(database, open);
  }
  return open;
}

/** Calls `listener` when `name` signs out, in this tab or another; false when other tabs cannot tell this one (no BroadcastChannel). */
export function watchSignOut(database: string, name: string, listener: () => void): boolean {
  const key = scope(database, name);
  listeners.set(key, (listeners.get(key) ?? new Set()).add(listener));
  return channel(database) !== undefined;
}

/** Tells this realm's stores at once, and every other tab of the origin, that `name` signed out. */
export function announceSignOut(database: string, name: string): void {
  notify(database, name);
  channel(database)?.postMessage({ signedOut: name });
}
