// The page the browser suite's flow loads: bundled by esbuild from the package as users
// bundle it ('dpop-fetch' resolves to dist/), served from its own origin, calling the
// authorization server and the API on two other origins. Playwright calls `window.e2e.*`.
// (The README's browser snippet, the app of many tabs, runs in e2e/browser/tabs/page.ts.)
import { DPoPError, calculateThumbprint, clientCredentials, createDPoPFetch, createProof, generateKeyPair, importKeyPair, type DPoPFetchOptions, type TokenSource } from 'dpop-fetch';
import { deleteKeyPair, getKeyPair, loadOrCreateKeyPair, putKeyPair } from 'dpop-fetch/indexeddb';
import { EmbeddedJWK, jwtVerify } from 'jose';
import { FLOW_RENEW_BEFORE, independentThumbprint, runFlow } from '../snippets/flow.mjs';

/** A page's client: its key kept in IndexedDB, so a reload signs with the same key. */
async function createApi(tokens: TokenSource, options: Omit<DPoPFetchOptions, 'keyPair' | 'tokens'> = {}) {
  const keyPair = await loadOrCreateKeyPair({ name: 'my-app' });
  return { keyPair, api: createDPoPFetch({ keyPair, tokens, ...options }) };
}

export interface Client {
  tokenEndpoint: string;
  clientId: string;
  clientSecret: string;
  apiUrl: string;
}

/** A thrown error as plain data (what crosses back to the Playwright side). */
export interface Failure {
  name: string;
  code: unknown;
  message: string;
  isDPoPError: boolean;
}

async function failure(fn: () => Promise<unknown>): Promise<Failure | null> {
  try {
    await fn();
    return null;
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return { name: e.name, code: e.code, message: e.message, isDPoPError: err instanceof DPoPError };
  }
}

/** True when WebCrypto hands out the private key in any format (it must not). */
async function exportable(key: CryptoKey): Promise<boolean> {
  for (const format of ['pkcs8', 'jwk'] as const) {
    const exported = await crypto.subtle.exportKey(format, key).then(
      () => true,
      () => false,
    );
    if (exported) return true;
  }
  return false;
}

/** Does a proof signed with this pair verify (jose, against the key in its own header)? */
async function proofVerifies(keyPair: CryptoKeyPair): Promise<boolean> {
  const proof = await createProof(keyPair, { htm: 'GET', htu: 'https://rs.example/x' });
  return jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] }).then(
    () => true,
    () => false,
  );
}

function tokensFor(client: Client) {
  return clientCredentials({ tokenEndpoint: client.tokenEndpoint, clientId: client.clientId, clientSecret: client.clientSecret, scope: 'api' });
}

/** The README snippet's api, driven through the shared flow until one renewal happened. */
async function flow(client: Client) {
  const events: unknown[] = [];
  const { api, keyPair } = await createApi(tokensFor(client), {
    renewBefore: FLOW_RENEW_BEFORE,
    onEvent: (e) => events.push(e),
    allowedOrigins: [new URL(client.apiUrl).origin],
  });
  const result = await runFlow(() => api(client.apiUrl));
  return {
    result,
    events,
    thumbprint: await independentThumbprint(keyPair.publicKey),
    privateKeyExportable: await exportable(keyPair.privateKey),
    privateKeyExtractable: keyPair.privateKey.extractable,
  };
}

/** One API call that is expected to fail (the CORS pitfall). */
async function callFails(client: Client) {
  const { api } = await createApi(tokensFor(client));
  return failure(() => api(client.apiUrl));
}

// --- raw IndexedDB, independent of the store under test -----------------------------------

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Opens `name` at `version`, creating `stores` (name -> keyPath or null) on upgrade. */
async function rawOpen(name: string, version?: number, stores: Record<string, string | null> = {}): Promise<IDBDatabase> {
  const req = indexedDB.open(name, version);
  req.onupgradeneeded = () => {
    for (const [store, keyPath] of Object.entries(stores)) {
      if (!req.result.objectStoreNames.contains(store)) req.result.createObjectStore(store, keyPath ? { keyPath } : undefined);
    }
  };
  return request(req);
}

async function rawPut(database: string, key: string, value: unknown): Promise<void> {
  const db = await rawOpen(database, undefined, { keys: null });
  try {
    const tx = db.transaction('keys', 'readwrite');
    const committed = new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onabort = tx.onerror = () => reject(tx.error);
    });
    await request(tx.objectStore('keys').put(value, key));
    // Until its transaction commits, this connection is still open: an upgrade by the code under
    // test right after would be "blocked" by it (seen on a loaded machine).
    await committed;
  } finally {
    db.close();
  }
}

async function rawDescribe(database: string): Promise<{ version: number; stores: string[] }> {
  const db = await rawOpen(database);
  const info = { version: db.version, stores: [...db.objectStoreNames] };
  db.close();
  return info;
}

/** Values that are not a usable key pair, as other code or an old version might leave them. */
async function corruptValue(kind: string): Promise<{ value: unknown; publicKey?: CryptoKey; pair?: CryptoKeyPair }> {
  const ecdsa = (namedCurve: string, extractable = false) =>
    crypto.subtle.generateKey({ name: 'ECDSA', namedCurve }, extractable, ['sign', 'verify']) as Promise<CryptoKeyPair>;
  switch (kind) {
    case 'string':
      return { value: 'not a key pair' };
    case 'null':
      return { value: null };
    case 'empty-object':
      return { value: {} };
    case 'not-keys':
      return { value: { privateKey: { type: 'private' }, publicKey: 'x' } };
    case 'public-only': {
      const { publicKey } = await ecdsa('P-256');
      return { value: { publicKey }, publicKey };
    }
    case 'extractable': {
      const pair = await ecdsa('P-256', true);
      return { value: { privateKey: pair.privateKey, publicKey: pair.publicKey }, publicKey: pair.publicKey };
    }
    case 'p384': {
      const pair = await ecdsa('P-384');
      return { value: { privateKey: pair.privateKey, publicKey: pair.publicKey }, publicKey: pair.publicKey };
    }
    case 'rsa': {
      const pair = (await crypto.subtle.generateKey(
        { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
        false,
        ['sign', 'verify'],
      )) as CryptoKeyPair;
      return { value: { privateKey: pair.privateKey, publicKey: pair.publicKey } };
    }
    case 'mismatched': {
      const a = await ecdsa('P-256');
      const b = await ecdsa('P-256');
      const pair = { privateKey: a.privateKey, publicKey: b.publicKey };
      return { value: pair, publicKey: b.publicKey, pair };
    }
    default:
      throw new Error(`unknown corruption ${kind}`);
  }
}

const keystore = {
  /** Nothing stored yet: a key is made, stored, and the same one comes back afterwards. */
  async fresh(name: string) {
    const before = await getKeyPair(name);
    const created = await loadOrCreateKeyPair({ name });
    const again = await loadOrCreateKeyPair({ name });
    const got = await getKeyPair(name);
    return {
      before: before === undefined,
      created: await independentThumbprint(created.publicKey),
      again: await independentThumbprint(again.publicKey),
      got: got && (await independentThumbprint(got.publicKey)),
      exportable: await exportable(created.privateKey),
      reloadedExportable: got ? await exportable(got.privateKey) : null,
      verifies: await proofVerifies(created),
    };
  },

  /** A key put there first (as by an earlier page load) is the one returned. */
  async existing(name: string) {
    const stored = await generateKeyPair();
    await putKeyPair(name, stored);
    const loaded = await loadOrCreateKeyPair({ name });
    return { stored: await independentThumbprint(stored.publicKey), loaded: await independentThumbprint(loaded.publicKey), verifies: await proofVerifies(loaded) };
  },

  /** A corrupt entry: not returned by getKeyPair, replaced by a working key, never a crash. */
  async corrupt(kind: string) {
    const name = `corrupt-${kind}`;
    const { value, publicKey, pair } = await corruptValue(kind);
    await rawPut('dpop-fetch', name, value);
    const got = await getKeyPair(name);
    const loaded = await loadOrCreateKeyPair({ name });
    const after = await getKeyPair(name);
    return {
      got: got === undefined ? null : 'returned',
      // The corruption is real: a proof from the corrupt pair itself does not verify (where it can be made).
      corruptVerifies: pair ? await proofVerifies(pair) : null,
      replaced: publicKey ? (await independentThumbprint(publicKey)) !== (await independentThumbprint(loaded.publicKey)) : true,
      verifies: await proofVerifies(loaded),
      exportable: await exportable(loaded.privateKey),
      persisted: after ? (await independentThumbprint(after.publicKey)) === (await independentThumbprint(loaded.publicKey)) : false,
    };
  },

  /** A database of that name made by other code, at another version, without our store. */
  async foreignDatabase(database: string) {
    (await rawOpen(database, 3, { unrelated: null })).close();
    const loaded = await loadOrCreateKeyPair({ name: 'k', database });
    const got = await getKeyPair('k', { database });
    return {
      same: got ? (await independentThumbprint(got.publicKey)) === (await independentThumbprint(loaded.publicKey)) : false,
      after: await rawDescribe(database),
    };
  },

  /** A `keys` store with an inline key path (other code's): a clear ERR_KEY_STORE, no crash. */
  async keyPathStore(database: string) {
    (await rawOpen(database, 1, { keys: 'id' })).close();
    return failure(() => loadOrCreateKeyPair({ name: 'k', database }));
  },

  async deleted(name: string) {
    await loadOrCreateKeyPair({ name });
    await deleteKeyPair(name);
    return (await getKeyPair(name)) === undefined;
  },

  async badArguments() {
    return {
      name: await failure(() => loadOrCreateKeyPair({ name: 42 as unknown as string })),
      extractable: await failure(async () => putKeyPair('x', await generateKeyPair({ extractable: true }))),
      factory: await failure(() => getKeyPair('x', { indexedDB: {} as IDBFactory })),
    };
  },
};

/** Imports an encrypted PEM in this browser's WebCrypto: its thumbprint, or the refusal. */
async function importEncrypted(pem: string, password: string) {
  let thumbprint: string | null = null;
  const refused = await failure(async () => (thumbprint = await calculateThumbprint(await importKeyPair(pem, { password }))));
  return { thumbprint, refused };
}

declare global {
  interface Window {
    e2e: { flow: typeof flow; callFails: typeof callFails; keystore: typeof keystore; importEncrypted: typeof importEncrypted; ready: true };
  }
}
window.e2e = { flow, callFails, keystore, importEncrypted, ready: true };
