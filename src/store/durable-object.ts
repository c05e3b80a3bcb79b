/**
 * `durableObjectStore(namespace, name?)` and `DPoPStoreObject`: a {@link DPoPStore} in one
 * Cloudflare Durable Object, which handles one request at a time, so every isolate of every
 * Worker bound to it sees one strongly consistent token, nonce set and lock.
 *
 * The class is a plain Durable Object (`constructor(state, env)`, `fetch`, `alarm`): it does not
 * import `cloudflare:workers`, so this module loads in every runtime.
 *
 * @see https://developers.cloudflare.com/durable-objects/
 */
import { invalidType, invalidValue, isObject } from '../assert.ts';
import { assertStoreKey, assertStoreValue, live, lockToken, ttlMilliseconds, type DPoPStore } from './dpop-store.ts';

/** What this adapter uses of a `DurableObjectNamespace` binding. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): object;
  get(id: object): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

/** What {@link DPoPStoreObject} uses of its `DurableObjectState`. */
export interface DurableObjectStateLike {
  storage: {
    get(key: string): Promise<unknown>;
    put(key: string, value: unknown): Promise<void>;
    delete(key: string): Promise<boolean>;
    list(): Promise<Map<string, unknown>>;
    getAlarm(): Promise<number | null>;
    setAlarm(scheduledTime: number): Promise<void>;
  };
}

/** One call from {@link durableObjectStore} to {@link DPoPStoreObject}, as JSON. */
type Call =
  | { op: 'get' | 'delete'; key: string }
  | { op: 'set'; key: string; value: string; ms: number }
  | { op: 'lock'; key: string; ms: number }
  | { op: 'unlock'; key: string; token: string };

// Expired entries are swept by an alarm at most this often (they are hidden on read anyway).
const SWEEP_MS = 60_000;

/**
 * A {@link DPoPStore} in a Durable Object of class {@link DPoPStoreObject}: strongly
 * consistent, with a lock. Bind the class and export it from your Worker:
 * `export { DPoPStoreObject } from 'dpop-fetch/store'`, with a `durable_objects` binding
 * (`class_name = "DPoPStoreObject"`) and a migration for it in `wrangler.toml`.
 *
 * @param namespace the Durable Object namespace binding (`env.DPOP_STORE`).
 * @param name which object (default `dpop-fetch`): every instance that passes the same name shares it.
 * @example
 * import { durableObjectStore } from 'dpop-fetch/store';
 * export { DPoPStoreObject } from 'dpop-fetch/store';
 * const store = durableObjectStore(env.DPOP_STORE);
 */
export function durableObjectStore(namespace: DurableObjectNamespaceLike, name?: string): DPoPStore {
  if (!isObject(namespace) || typeof namespace.idFromName !== 'function' || typeof namespace.get !== 'function') throw invalidType('namespace', 'a Durable Object namespace binding');
  if (name !== undefined && typeof name !== 'string') throw invalidType('name', 'a string');
  if (name === '') throw invalidValue('name', 'must not be empty');

  async function send(call: Call): Promise<Record<string, unknown>> {
    // A stub per call (both steps are local and cheap): a stub made while serving one request
    // is not kept for the next, since workerd ties I/O objects to the request that made them.
    const stub = namespace.get(namespace.idFromName(name ?? 'dpop-fetch'));
    const response = await stub.fetch('https://dpop-store.invalid/', { method: 'POST', body: JSON.stringify(call) });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`The DPoPStoreObject answered ${response.status}: is the binding's class DPoPStoreObject from dpop-fetch/store?`);
    }
    const answer: unknown = await response.json();
    if (!isObject(answer)) throw new Error('The DPoPStoreObject answered something other than a JSON object');
    return answer;
  }

  return {
    async get(key) {
      assertStoreKey(key);
      const { value } = await send({ op: 'get', key });
      return typeof value === 'string' ? value : null;
    },
    async set(key, value, ttlSeconds) {
      assertStoreKey(key);
      assertStoreValue(value);
      await send({ op: 'set', key, value, ms: ttlMilliseconds(ttlSeconds) });
    },
    async delete(key) {
      assertStoreKey(key);
      await send({ op: 'delete', key });
    },
    async lock(key, ttlSeconds) {
      assertStoreKey(key);
      const { token } = await send({ op: 'lock', key, ms: ttlMilliseconds(ttlSeconds) });
      if (typeof token !== 'string') return null;
      return async () => {
        await send({ op: 'unlock', key, token });
      };
    },
  };
}

function parseCall(body: unknown): Call | undefined {
  if (!isObject(body) || typeof body.key !== 'string' || body.key === '') return undefined;
  const { op, value, ms, token } = body;
  const positive = typeof ms === 'number' && Number.isFinite(ms) && ms > 0;
  if (op === 'get' || op === 'delete') return body as Call;
  if (op === 'set' && typeof value === 'string' && positive) return body as Call;
  if (op === 'lock' && positive) return body as Call;
  if (op === 'unlock' && typeof token === 'string') return body as Call;
  return undefined;
}

/**
 * The Durable Object behind {@link durableObjectStore}. Export it from your Worker and bind it.
 * It handles one call at a time (a Durable Object's input gate holds other events while it
 * reads and writes its storage), so the lock's check-and-set is atomic. Expired entries are
 * hidden on read and deleted by an alarm.
 *
 * @example
 * // worker.ts
 * export { DPoPStoreObject } from 'dpop-fetch/store';
 * // wrangler.toml
 * // [[durable_objects.bindings]]
 * // name = "DPOP_STORE"
 * // class_name = "DPoPStoreObject"
 * // [[migrations]]
 * // tag = "v1"
 * // new_sqlite_classes = ["DPoPStoreObject"]
 */
export class DPoPStoreObject {
  readonly #storage: DurableObjectStateLike['storage'];

  /** Called by the Workers runtime. */
  constructor(state: DurableObjectStateLike, _env?: unknown) {
    this.#storage = state.storage;
  }

  /** One store call, as JSON: the runtime calls this for each `durableObjectStore` request. */
  async fetch(request: Request): Promise<Response> {
    let call: Call | undefined;
    try {
      call = request.method === 'POST' ? parseCall(await request.json()) : undefined;
    } catch {
      call = undefined;
    }
    if (!call) return new Response('Not a dpop-fetch store call', { status: 400 });
    return Response.json(await this.#handle(call));
  }

  async #handle(call: Call): Promise<Record<string, unknown>> {
    const storage = this.#storage;
    const now = Date.now();
    switch (call.op) {
      case 'get':
        return { value: live(await storage.get(`value:${call.key}`), now)?.value ?? null };
      case 'set':
        await storage.put(`value:${call.key}`, { value: call.value, expires: now + call.ms });
        await this.#sweepLater();
        return {};
      case 'delete':
        await storage.delete(`value:${call.key}`);
        return {};
      case 'lock': {
        if (live(await storage.get(`lock:${call.key}`), now)) return { token: null };
        const token = lockToken();
        await storage.put(`lock:${call.key}`, { value: token, expires: now + call.ms });
        await this.#sweepLater();
        return { token };
      }
      case 'unlock':
        // Compare-and-delete: a holder past its TTL never frees its successor's lock.
        if (live(await storage.get(`lock:${call.key}`), now)?.value === call.token) await storage.delete(`lock:${call.key}`);
        return {};
    }
  }

  async #sweepLater(): Promise<void> {
    if ((await this.#storage.getAlarm()) === null) await this.#storage.setAlarm(Date.now() + SWEEP_MS);
  }

  /** Deletes expired entries; called by the runtime at the time `#sweepLater` set. */
  async alarm(): Promise<void> {
    const now = Date.now();
    let left = false;
    for (const [key, entry] of await this.#storage.list()) {
      if (live(entry, now)) left = true;
      else await this.#storage.delete(key);
    }
    if (left) await this.#storage.setAlarm(now + SWEEP_MS);
  }
}
