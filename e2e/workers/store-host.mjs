// @ts-check
// A second Worker, in its own isolate, for e2e/workers/store.test.ts: it hosts the
// DPoPStoreObject class (bound as STORE by both Workers) and serves store calls from the test
// Worker through its own durableObjectStore and workersKvStore, made once per isolate and used
// across requests as a real Worker would. Loaded by Miniflare as is: plain JavaScript, the
// built package.
import { DPoPStoreObject, durableObjectStore, workersKvStore } from '../../dist/store/index.js';
import { decode, encode, storeServer } from '../../test/support/remote-store.mjs';

export { DPoPStoreObject };

/** @type {Record<string, ReturnType<typeof storeServer>> | undefined} */
let servers;

export default {
  /** @param {Request} request @param {{ STORE: any, KV: any }} env */
  async fetch(request, env) {
    servers ??= { do: storeServer(durableObjectStore(env.STORE)), kv: storeServer(workersKvStore(env.KV)) };
    const { store, call } = decode(await request.text());
    return new Response(encode(await servers[store](call)));
  },
};
