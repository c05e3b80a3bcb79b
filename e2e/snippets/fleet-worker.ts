// Cloudflare Workers, many isolates: one key from one secret, one token and the servers' nonces
// shared through a Durable Object (strongly consistent, with a lock), or through Workers KV
// (no lock: a few duplicate token requests when many isolates start at once, never a failure).
import { clientCredentials, createDPoPFetch, importKeyPair, type DPoPFetch } from 'dpop-fetch';
import { DPoPStoreObject, durableObjectStore, workersKvStore, type DurableObjectNamespaceLike, type WorkersKvNamespace } from 'dpop-fetch/store';

// wrangler.toml: [[durable_objects.bindings]] name = "DPOP_STORE", class_name = "DPoPStoreObject",
// and a migration with new_classes = ["DPoPStoreObject"]; or [[kv_namespaces]] binding = "DPOP_KV".
export { DPoPStoreObject };

export interface Env {
  TOKEN_ENDPOINT: string;
  CLIENT_ID: string;
  CLIENT_SECRET: string; // wrangler secret put CLIENT_SECRET
  DPOP_KEY: string; // wrangler secret put DPOP_KEY < key.pem: the same key in every isolate
  API_ORIGIN: string;
  DPOP_STORE?: DurableObjectNamespaceLike;
  DPOP_KV?: WorkersKvNamespace;
}

let api: Promise<DPoPFetch> | undefined;

async function connect(env: Env): Promise<DPoPFetch> {
  const keyPair = await importKeyPair(env.DPOP_KEY);
  const store = env.DPOP_STORE ? durableObjectStore(env.DPOP_STORE) : workersKvStore(env.DPOP_KV!);
  const tokens = clientCredentials({ tokenEndpoint: env.TOKEN_ENDPOINT, clientId: env.CLIENT_ID, clientSecret: env.CLIENT_SECRET, scope: 'api' });
  return createDPoPFetch({ keyPair, tokens, store, allowedOrigins: [env.API_ORIGIN] });
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    api ??= connect(env);
    const { pathname, search } = new URL(request.url);
    return (await api)(new URL(pathname + search, env.API_ORIGIN));
  },
};
