/**
 * `denoKvStore(kv)`: a {@link DPoPStore} on Deno KV (a local SQLite file, or Deno Deploy's
 * global store), through the application's own `Deno.Kv`.
 *
 * @see https://docs.deno.com/deploy/kv/manual/
 */
import { invalidType, isObject } from '../assert.ts';
import { assertStoreKey, assertStoreValue, live, lockToken, ttlMilliseconds, type DPoPStore } from './dpop-store.ts';

/** A Deno KV key, as this adapter writes it: string parts. */
export type DenoKvKey = readonly string[];

/** What this adapter uses of `Deno.AtomicOperation`. */
export interface DenoKvAtomic {
  check(...checks: { key: DenoKvKey; versionstamp: string | null }[]): DenoKvAtomic;
  set(key: DenoKvKey, value: unknown, options?: { expireIn?: number }): DenoKvAtomic;
  delete(key: DenoKvKey): DenoKvAtomic;
  commit(): Promise<{ ok: boolean }>;
}

/** What this adapter uses of a `Deno.Kv` (`await Deno.openKv()`). */
export interface DenoKv {
  get(key: DenoKvKey): Promise<{ value: unknown; versionstamp: string | null }>;
  set(key: DenoKvKey, value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  delete(key: DenoKvKey): Promise<void>;
  atomic(): DenoKvAtomic;
}

/** Options of {@link denoKvStore}. */
export interface DenoKvStoreOptions {
  /** The first parts of every KV key. Default `['dpop-fetch']`; values live under `[...prefix, 'value', key]`, locks under `[...prefix, 'lock', key]`. */
  prefix?: readonly string[] | undefined;
}

// A local KV file is SQLite: a process that writes while another one does gets "database is
// locked" (SQLITE_BUSY) at once. Nothing was written then, so the call is tried again, a few
// times, after a short random pause; Deno Deploy's KV never answers this.
const BUSY_TRIES = 8;

async function unlessBusy<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      if (attempt >= BUSY_TRIES || !/database is locked/i.test(String((err as Error)?.message))) throw err;
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8 * attempt));
    }
  }
}

/**
 * A {@link DPoPStore} on Deno KV. Values and locks are written with `expireIn`, and each entry
 * also carries its own expiry, checked on every read: Deno KV deletes expired keys lazily and
 * may return one after its time. The lock is an atomic check-and-set (`kv.atomic().check()`),
 * released by an atomic compare-and-delete of the holder's token.
 *
 * @param kv a `Deno.Kv` from `Deno.openKv()` (run with `--unstable-kv` where Deno needs it).
 * @param options `prefix`: the first parts of every key (default `['dpop-fetch']`).
 * @example
 * import { denoKvStore } from 'dpop-fetch/store';
 * const store = denoKvStore(await Deno.openKv());
 */
export function denoKvStore(kv: DenoKv, options?: DenoKvStoreOptions): DPoPStore {
  if (!isObject(kv) || !(['get', 'set', 'delete', 'atomic'] as const).every((m) => typeof kv[m] === 'function')) throw invalidType('kv', 'a Deno.Kv (await Deno.openKv())');
  if (options !== undefined && !isObject(options)) throw invalidType('options', 'an object');
  const prefix = options?.prefix ?? ['dpop-fetch'];
  if (!Array.isArray(prefix) || !prefix.every((part) => typeof part === 'string')) throw invalidType('options.prefix', 'an array of strings');
  const valueKey = (key: string): DenoKvKey => [...prefix, 'value', key];
  const lockKey = (key: string): DenoKvKey => [...prefix, 'lock', key];

  return {
    async get(key) {
      assertStoreKey(key);
      return live((await unlessBusy(() => kv.get(valueKey(key)))).value, Date.now())?.value;
    },
    async set(key, value, ttlSeconds) {
      assertStoreKey(key);
      assertStoreValue(value);
      const ms = ttlMilliseconds(ttlSeconds);
      await unlessBusy(() => kv.set(valueKey(key), { value, expires: Date.now() + ms }, { expireIn: ms }));
    },
    async delete(key) {
      assertStoreKey(key);
      await unlessBusy(() => kv.delete(valueKey(key)));
    },
    async lock(key, ttlSeconds) {
      assertStoreKey(key);
      const ms = ttlMilliseconds(ttlSeconds);
      const at = lockKey(key);
      const current = await unlessBusy(() => kv.get(at));
      if (live(current.value, Date.now())) return null;
      // Taken only if nobody wrote the lock since we read it (free, or expired but not yet purged).
      const token = lockToken();
      const taken = await unlessBusy(() => kv.atomic().check({ key: at, versionstamp: current.versionstamp }).set(at, { value: token, expires: Date.now() + ms }, { expireIn: ms }).commit());
      if (!taken.ok) return null;
      return async () => {
        const held = await unlessBusy(() => kv.get(at));
        if (live(held.value, Date.now())?.value !== token) return;
        // Deleted only if unchanged since this read: never a successor's lock.
        await unlessBusy(() => kv.atomic().check({ key: at, versionstamp: held.versionstamp }).delete(at).commit());
      };
    },
  };
}
