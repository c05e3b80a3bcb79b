// The page of test/store/tab-store.test.ts: indexedDbStore and the key store from src/, each
// call driven from Node through remote-store.mjs, and raw IndexedDB to look behind them.
import { generateKeyPair } from '../../src/keys/key.ts';
import { calculateThumbprint } from '../../src/keys/thumbprint.ts';
import type { DPoPStore } from '../../src/store/dpop-store.ts';
import { deleteKeyPair, indexedDbStore, loadOrCreateKeyPair, putKeyPair } from '../../src/store/indexeddb.ts';
import { storeServer } from '../support/remote-store.mjs';

type Options = Parameters<typeof indexedDbStore>[0];
const stores = new Map<string, { store: DPoPStore; serve: ReturnType<typeof storeServer> }>();

/** This tab's store named `name` (one per name, as an app makes one). */
function storeOf(name: string, options: Options = {}) {
  let kept = stores.get(name);
  if (!kept) {
    const store = indexedDbStore({ name, ...options });
    kept = { store, serve: storeServer(store) };
    stores.set(name, kept);
  }
  return kept;
}

const failure = (err: unknown) => {
  const { name, code, message } = err as Error & { code?: string };
  return { name, code, message };
};

/** The entries of the `shared` object store, read without the store under test. */
function rawEntries(): Promise<Array<{ key: unknown; value: unknown }>> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('dpop-fetch');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const out: Array<{ key: unknown; value: unknown }> = [];
      const cursor = db.transaction('shared').objectStore('shared').openCursor();
      cursor.onsuccess = () => {
        if (!cursor.result) return db.close(), resolve(out);
        out.push({ key: cursor.result.key, value: cursor.result.value });
        cursor.result.continue();
      };
      cursor.onerror = () => reject(cursor.error);
    };
  });
}

function rawPut(key: unknown, value: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('dpop-fetch');
    open.onsuccess = () => {
      const tx = open.result.transaction('shared', 'readwrite');
      tx.objectStore('shared').put(value, key as IDBValidKey);
      tx.oncomplete = () => (open.result.close(), resolve());
      tx.onerror = () => reject(tx.error);
    };
  });
}

const page = {
  call: (name: string, call: Parameters<ReturnType<typeof storeServer>>[0]) => storeOf(name).serve(call),
  /** The app's key under `name` (made when missing): its thumbprint. */
  key: async (name: string) => calculateThumbprint(await loadOrCreateKeyPair({ name })),
  /** Another key put under `name`, as a new sign-in does: its thumbprint. */
  replaceKey: async (name: string) => {
    const pair = await generateKeyPair();
    await putKeyPair(name, pair);
    return calculateThumbprint(pair);
  },
  signOut: (name: string) => deleteKeyPair(name),
  /** checkSession's outcome: whether it answered at once, and how. */
  async session(name: string, jkt: string) {
    try {
      const answer = storeOf(name).store.checkSession!(jkt);
      const at_once = !(answer instanceof Promise);
      await answer;
      return { on: true, at_once };
    } catch (err) {
      return { on: false, ...failure(err) };
    }
  },
  /** A store made with these options (not kept): one call's outcome. */
  async once(options: Options, op: 'get' | 'lock') {
    try {
      const store = indexedDbStore(options);
      return { result: await (op === 'get' ? store.get('k') : store.lock!('k', 1)) };
    } catch (err) {
      return failure(err);
    }
  },
  argument(options: unknown) {
    try {
      indexedDbStore(options as Options);
      return null;
    } catch (err) {
      return failure(err);
    }
  },
  rawEntries,
  rawPut,
};

declare global {
  interface Window {
    tabStore: typeof page;
    ready: boolean;
  }
}
window.tabStore = page;
window.ready = true;
