/**
 * `indexedDbStore`: the {@link DPoPStore} of the tabs of one app (issue 16). Every tab of the
 * origin that holds the app's key (`loadOrCreateKeyPair({ name })`) shares one access token, the
 * refresh token and the servers' nonces through the same IndexedDB database as the key, and
 * takes turns with a Web Lock, which the browser frees when the tab holding it closes or
 * crashes. Sign-out (`deleteKeyPair(name)`) clears it all and ends the session in every tab.
 *
 * @see https://w3c.github.io/web-locks/
 * @see https://html.spec.whatwg.org/multipage/web-messaging.html#broadcasting-to-other-browsing-contexts
 */
import { assertOptionalObject, assertOptionalString, invalidType, isObject } from '../assert.ts';
import { DPoPError } from '../errors.ts';
import { encode } from '../base64url.ts';
import { assertStoreKey, assertStoreValue, live, ttlMilliseconds, type DPoPStore } from './dpop-store.ts';
import { checkWhere, DEFAULT_DATABASE, entriesOf, KEYS, open, run, SHARED, watchSignOut, type KeyStoreOptions } from './idb.ts';

/** Options of {@link indexedDbStore}. */
export interface TabStoreOptions extends KeyStoreOptions {
  /** The name of the app's key, as given to `loadOrCreateKeyPair`: `deleteKeyPair(name)` signs every tab out. Default `default`. */
  name?: string | undefined;
  /** The Web Locks of the origin. Default: `navigator.locks`. */
  locks?: LockManager | undefined;
}

// A tab that was hidden, frozen or kept in the back-forward cache may have missed the sign-out
// message: after it comes back, the stored key is looked at again before a token is used.
let wakes = 0;
let watching = false;
function watchWakes(): void {
  const { document } = globalThis as { document?: Document };
  if (watching || !document) return;
  watching = true;
  const wake = () => void wakes++;
  addEventListener('pageshow', (event) => (event as PageTransitionEvent).persisted && wake());
  document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && wake());
  document.addEventListener('resume', wake); // Page Lifecycle: the tab was frozen
}

/** RFC 7638 thumbprint of a stored P-256 public key ('' when it is not one): src/keys/thumbprint.ts for the one key type stored here. */
async function thumbprintOf(pair: unknown): Promise<string> {
  try {
    const { crv, x, y } = await crypto.subtle.exportKey('jwk', (pair as CryptoKeyPair).publicKey);
    return encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`{"crv":"${crv}","kty":"EC","x":"${x}","y":"${y}"}`))));
  } catch {
    return '';
  }
}

const signedOut = (name: string) =>
  new DPoPError('ERR_LOGIN_REQUIRED', `The user signed out (deleteKeyPair, in this tab or another), or the key is not the one stored as ${JSON.stringify(name.slice(0, 100))}: no request was sent with a token. Sign in again.`);

/**
 * A store for every tab of an app: the shared token, refresh token and nonces in IndexedDB
 * (the database of the key, object store `shared`), the lock a Web Lock, and the session ended
 * in every tab by `deleteKeyPair(name)`.
 *
 * Where Web Locks are missing (browsers before 2022), the tabs take turns with a lease in
 * IndexedDB instead, which a tab that closes holds until its TTL. Where IndexedDB refuses (some
 * private windows), its calls reject with `ERR_KEY_STORE`: createDPoPFetch reports a
 * `store-error` event and each tab goes on alone, as without a store.
 *
 * @param options `name`: the app's key name (as in loadOrCreateKeyPair); `database`, `indexedDB`, `locks`.
 * @returns a DPoPStore for createDPoPFetch's `store`.
 * @example
 * const keyPair = await loadOrCreateKeyPair({ name: 'app' });
 * const api = createDPoPFetch({ keyPair, tokens: refreshToken({ tokenEndpoint, clientId }), store: indexedDbStore({ name: 'app' }) });
 */
export function indexedDbStore(options?: TabStoreOptions): DPoPStore {
  assertOptionalObject(options, 'options');
  assertOptionalString(options?.name, 'options.name');
  checkWhere(options);
  const given: unknown = options?.locks;
  if (given !== undefined && (!isObject(given) || typeof given.request !== 'function')) throw invalidType('options.locks', 'a LockManager');
  const name = options?.name ?? 'default';
  const database = options?.database ?? DEFAULT_DATABASE;
  const locks = options?.locks ?? (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;

  let connection: Promise<IDBDatabase> | undefined;
  function connect(): Promise<IDBDatabase> {
    const opening = (connection ??= open(options).then((db) => {
      db.onversionchange = db.onclose = () => {
        db.close();
        if (connection === opening) connection = undefined;
      };
      // Entries past their expiry go at the first connection (the next write would replace them anyway).
      void run(db, [SHARED], 'readwrite', (tx) => {
        const cursor = tx.objectStore(SHARED).openCursor(entriesOf(name));
        cursor.onsuccess = () => {
          if (!cursor.result) return;
          if (!live(cursor.result.value, Date.now())) cursor.result.delete();
          cursor.result.continue();
        };
      }, () => undefined).catch(() => {});
      return db;
    }));
    opening.catch(() => {
      if (connection === opening) connection = undefined;
    });
    return opening;
  }

  /** One transaction on the open database; opened again once if another tab closed it meanwhile. */
  async function tx<T>(store: string, mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest | void, pick: (last: unknown, store: IDBObjectStore) => T = () => undefined as T): Promise<T> {
    for (let again = true; ; again = false) {
      const opening = connect();
      try {
        return await run(await opening, [store], mode, (t) => work(t.objectStore(store)), (t, last) => pick(last, t.objectStore(store)));
      } catch (err) {
        if (!again || connection === opening) throw err;
      }
    }
  }

  // The session: a jkt is checked against the stored key once, again after the tab slept, and
  // on every call where no message can tell of a sign-out; once signed out, it stays out.
  watchWakes();
  const ended = new Set<string>();
  let verified: string | undefined;
  let verifiedAt = -1;
  let generation = 0;
  const told = watchSignOut(database, name, () => {
    if (verified !== undefined) ended.add(verified);
    verified = undefined;
    generation++;
  });
  async function verify(jkt: string): Promise<void> {
    const [at, gen] = [wakes, generation];
    const pair = await tx(KEYS, 'readonly', (keys) => keys.get(name), (value) => value);
    const same = (await thumbprintOf(pair)) === jkt;
    if (!same || gen !== generation) {
      ended.add(jkt);
      throw signedOut(name);
    }
    [verified, verifiedAt] = [jkt, at];
  }
  let checking: [string, Promise<void>] | undefined;

  /**
   * Without Web Locks (browsers before 2022): a lease kept beside the entries, taken in one
   * readwrite transaction (IndexedDB runs those one at a time across tabs) and given back only
   * by its holder. A tab that closes holds it until its TTL.
   */
  async function lease(at: IDBValidKey, ms: number): Promise<(() => Promise<void>) | null> {
    const token = crypto.randomUUID();
    const mine = (held: unknown) => (held as { value?: unknown } | undefined)?.value === token;
    const took = await tx(SHARED, 'readwrite', (shared) => shared.get(at), (held, shared) => !live(held, Date.now()) && !!shared.put({ value: token, expires: Date.now() + ms }, at));
    return took ? () => tx(SHARED, 'readwrite', (shared) => shared.get(at), (held, shared) => void (mine(held) && shared.delete(at))) : null;
  }

  return {
    // Said once through createDPoPFetch's onEvent (a store-error event, reason `degraded`).
    ...(!locks && { degraded: 'no Web Locks in this browser: the tabs take turns with a lease in IndexedDB, which a tab that closes holds until its TTL' }),
    async get(key) {
      assertStoreKey(key);
      return tx(SHARED, 'readonly', (shared) => shared.get([name, key]), (entry) => live(entry, Date.now())?.value);
    },
    async set(key, value, ttlSeconds) {
      assertStoreKey(key);
      assertStoreValue(value);
      const expires = Date.now() + ttlMilliseconds(ttlSeconds);
      await tx(SHARED, 'readwrite', (shared) => void shared.put({ value, expires }, [name, key]));
    },
    async delete(key) {
      assertStoreKey(key);
      await tx(SHARED, 'readwrite', (shared) => void shared.delete([name, key]));
    },
    async lock(key, ttlSeconds) {
      assertStoreKey(key);
      const ms = ttlMilliseconds(ttlSeconds);
      if (!locks) return lease([name, key, 'lock'], ms);
      return new Promise((resolve, reject) => {
        // ifAvailable: never waits. The lock is held until release, or for its TTL at most;
        // the browser frees it at once when this tab closes or crashes.
        locks
          .request(`dpop-fetch ${JSON.stringify([database, name, key])}`, { ifAvailable: true }, (lock) => {
            if (!lock) return resolve(null);
            return new Promise<void>((done) => {
              const timer = setTimeout(done, ms);
              resolve(async () => {
                clearTimeout(timer);
                done();
              });
            });
          })
          .catch(reject);
      });
    },
    checkSession(jkt) {
      if (ended.has(jkt)) throw signedOut(name);
      if (told && verified === jkt && verifiedAt === wakes) return;
      if (checking?.[0] !== jkt) {
        const pending: [string, Promise<void>] = [jkt, verify(jkt).finally(() => checking === pending && (checking = undefined))];
        checking = pending;
      }
      return checking![1];
    },
  };
}
