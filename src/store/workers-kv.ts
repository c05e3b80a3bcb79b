/**
 * `workersKvStore(namespace)`: a {@link DPoPStore} on Cloudflare Workers KV, through the
 * Worker's own KV namespace binding. No lock: KV is eventually consistent (a write can take
 * 60 s or more to be seen in other locations), so two instances could both believe they hold
 * one. Without a lock, a fleet's cold start costs a few duplicate token requests, never a
 * failure; use `durableObjectStore` for a strongly consistent lock.
 *
 * @see https://developers.cloudflare.com/kv/concepts/how-kv-works/
 */
import { invalidType, isObject } from '../assert.ts';
import { assertStoreKey, assertStoreValue, live, ttlMilliseconds, type DPoPStore } from './dpop-store.ts';

/** What this adapter uses of a Workers `KVNamespace` binding. */
export interface WorkersKvNamespace {
  getWithMetadata(key: string, type: 'text'): Promise<{ value: string | null; metadata: unknown }>;
  put(key: string, value: string, options?: { expirationTtl?: number; metadata?: unknown }): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Options of {@link workersKvStore}. */
export interface WorkersKvStoreOptions {
  /** Prepended to every KV key. Default `dpop-fetch:`. */
  prefix?: string | undefined;
}

// KV refuses an expirationTtl under 60 s: shorter entries are kept for 60 s and hidden by the
// expiry written in their metadata, which every read checks.
const KV_MIN_TTL_SECONDS = 60;

/**
 * A {@link DPoPStore} on Workers KV, without `lock`. Each value is written with
 * `expirationTtl` (at least KV's minimum of 60 s) and with its exact expiry in the key's
 * metadata; a read past that expiry returns null, so TTLs under a minute work too.
 *
 * @param namespace the KV namespace binding (`env.DPOP_KV`, declared in `wrangler.toml`).
 * @param options `prefix` for every key (default `dpop-fetch:`).
 * @example
 * import { workersKvStore } from 'dpop-fetch/store';
 * const store = workersKvStore(env.DPOP_KV);
 */
export function workersKvStore(namespace: WorkersKvNamespace, options?: WorkersKvStoreOptions): DPoPStore {
  if (!isObject(namespace) || !(['getWithMetadata', 'put', 'delete'] as const).every((m) => typeof namespace[m] === 'function')) throw invalidType('namespace', 'a Workers KV namespace binding');
  if (options !== undefined && !isObject(options)) throw invalidType('options', 'an object');
  const prefix = options?.prefix ?? 'dpop-fetch:';
  if (typeof prefix !== 'string') throw invalidType('options.prefix', 'a string');

  return {
    async get(key) {
      assertStoreKey(key);
      const { value, metadata } = await namespace.getWithMetadata(prefix + key, 'text');
      // An entry counts only with the expiry this adapter wrote beside it.
      return value !== null && live({ value, expires: isObject(metadata) ? metadata.expires : undefined }, Date.now()) ? value : null;
    },
    async set(key, value, ttlSeconds) {
      assertStoreKey(key);
      assertStoreValue(value);
      const ms = ttlMilliseconds(ttlSeconds);
      await namespace.put(prefix + key, value, { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, Math.ceil(ms / 1000)), metadata: { expires: Date.now() + ms } });
    },
    async delete(key) {
      assertStoreKey(key);
      await namespace.delete(prefix + key);
    },
  };
}
