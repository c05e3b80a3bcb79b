// @ts-check
// A DPoPStore whose calls run somewhere else: in another process (a Deno child on a KV file) or
// another isolate (a second Worker). The contract suite then drives an adapter in the runtime it
// was made for, and two such stores on one engine contend as two real instances would.
// Plain JavaScript so that Node, Deno, workerd and a Worker loaded without a bundler all run it.

/** @typedef {import('../../src/store/dpop-store.ts').DPoPStore} DPoPStore */
/** @typedef {{ op: 'get' | 'set' | 'delete' | 'lock', args: unknown[] } | { op: 'release', id: number }} StoreCall */
/** @typedef {{ result?: unknown, error?: { name: string, code?: string, message: string } }} StoreAnswer */

/** JSON that keeps NaN, ±Infinity and undefined, so argument checks see what the caller passed. */
export function encode(/** @type {unknown} */ value) {
  return JSON.stringify(value, (_, v) => (v === undefined ? { $: 'undefined' } : typeof v === 'number' && !Number.isFinite(v) ? { $: String(v) } : v));
}

export function decode(/** @type {string} */ text) {
  return JSON.parse(text, (_, v) => (v && typeof v === 'object' && typeof v.$ === 'string' ? (v.$ === 'undefined' ? undefined : Number(v.$)) : v));
}

/**
 * The caller's side: a DPoPStore that sends each call and rethrows the far side's errors with
 * their name, code and message.
 * @param {(call: StoreCall) => Promise<StoreAnswer>} send
 * @returns {Required<Pick<DPoPStore, 'get' | 'set' | 'delete' | 'lock'>>}
 */
export function remoteStore(send) {
  const call = async (/** @type {StoreCall} */ message) => {
    const answer = await send(message);
    if (!answer.error) return answer.result;
    const err = answer.error.name === 'TypeError' ? new TypeError(answer.error.message) : new Error(answer.error.message);
    if (answer.error.code) Object.assign(err, { code: answer.error.code });
    throw err;
  };
  return {
    get: async (key) => /** @type {string | null} */ (await call({ op: 'get', args: [key] })),
    set: async (key, value, ttlSeconds) => void (await call({ op: 'set', args: [key, value, ttlSeconds] })),
    delete: async (key) => void (await call({ op: 'delete', args: [key] })),
    lock: async (key, ttlSeconds) => {
      const id = await call({ op: 'lock', args: [key, ttlSeconds] });
      return typeof id === 'number' ? async () => void (await call({ op: 'release', id })) : null;
    },
  };
}

/**
 * The far side: runs each call on a real adapter. A lock taken is kept here, and released by
 * its id.
 * @param {DPoPStore} store
 * @returns {(call: StoreCall) => Promise<StoreAnswer>}
 */
export function storeServer(store) {
  /** @type {Map<number, () => Promise<void>>} */
  const releases = new Map();
  let next = 0;
  return async (message) => {
    try {
      if (message.op === 'release') {
        const release = releases.get(message.id);
        if (!release) throw new Error(`no lock ${message.id}`);
        await release();
        return { result: null };
      }
      const method = /** @type {(...args: unknown[]) => Promise<unknown>} */ (store[message.op]);
      const result = await method.apply(store, message.args);
      if (message.op !== 'lock') return { result: result ?? null };
      if (typeof result !== 'function') return { result: null };
      releases.set(++next, /** @type {() => Promise<void>} */ (result));
      return { result: next };
    } catch (err) {
      const { name, code, message: text } = /** @type {Error & { code?: string }} */ (err);
      return { error: { name, message: text, ...(code ? { code } : {}) } };
    }
  };
}
