/**
 * `redisStore(client)`: a {@link DPoPStore} on Redis (or Valkey, KeyDB, Dragonfly: anything that
 * speaks `SET … NX PX` and `EVAL`), through the application's own node-redis or ioredis client.
 *
 * @see https://redis.io/docs/latest/develop/use/patterns/distributed-locks/ (single instance)
 */
import { invalidType, invalidValue, isObject } from '../assert.ts';
import { assertStoreKey, assertStoreValue, lockToken, ttlMilliseconds, type DPoPStore } from './dpop-store.ts';

/**
 * A connected node-redis (v4, v5, v6) or ioredis (v5, v6) client or cluster. Only `get`,
 * `set`, `del` and `eval` are called; their signatures differ between the two libraries, so
 * they are typed loosely here and told apart at run time.
 */
export interface RedisClient {
  get(key: string): Promise<unknown>;
  set(...args: never): Promise<unknown>;
  del(...args: never): Promise<unknown>;
  eval(...args: never): Promise<unknown>;
}

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /** Prepended to every Redis key. Default `dpop-fetch:`; values live under `<prefix>value:<key>`, locks under `<prefix>lock:<key>`. */
  prefix?: string | undefined;
}

const decoder = new TextDecoder();

type Call = (...args: unknown[]) => Promise<unknown>;

// Compare-and-delete in one step on the server: the lock is freed only if it still holds the
// releasing holder's token (a holder whose TTL ran out must not free its successor's lock).
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/**
 * A {@link DPoPStore} on Redis. `set` is `SET key value PX ms`; the lock is
 * `SET key token NX PX ms`, released by a Lua compare-and-delete, so a lock whose holder died
 * is freed by Redis at its TTL and never freed by a late holder.
 *
 * @param client a connected node-redis client (`createClient()`, `createCluster()`, v4 to v6)
 *   or ioredis client (`new Redis()`, `new Redis.Cluster()`); not a v4 `legacyMode` client.
 * @param options `prefix` for every key (default `dpop-fetch:`).
 * @example
 * import { createClient } from 'redis';
 * import { redisStore } from 'dpop-fetch/store';
 * const store = redisStore(await createClient({ url: process.env.REDIS_URL }).connect());
 */
export function redisStore(client: RedisClient, options?: RedisStoreOptions): DPoPStore {
  const expected = 'a node-redis or ioredis client';
  if (!isObject(client)) throw invalidType('client', expected);
  for (const method of ['get', 'set', 'del', 'eval'] as const) if (typeof client[method] !== 'function') throw invalidType('client', expected);
  const shape = client as unknown as Record<string, unknown>;
  // ioredis: `status` and `defineCommand`; node-redis: `isOpen` and the upper-case command names.
  const ioredis = typeof shape.status === 'string' && typeof shape.defineCommand === 'function';
  const nodeRedis = typeof shape.isOpen === 'boolean' && typeof shape.EVAL === 'function';
  if (ioredis === nodeRedis) throw invalidType('client', expected);
  if (nodeRedis && isObject(shape.options) && shape.options.legacyMode) throw invalidValue('client', 'is a node-redis legacyMode client: pass one made without legacyMode (its commands return promises)');
  if (options !== undefined && !isObject(options)) throw invalidType('options', 'an object');
  const prefix = options?.prefix ?? 'dpop-fetch:';
  if (typeof prefix !== 'string') throw invalidType('options.prefix', 'a string');

  const call = (method: keyof RedisClient, ...args: unknown[]): Promise<unknown> => (client[method] as Call).apply(client, args);
  // node-redis 5+ reads `expiration`/`condition`; v4 reads `PX`/`NX` (deprecated since v5): both
  // are given, each version uses its own and ignores the other's.
  const setPx = (key: string, value: string, ms: number, nx: boolean): Promise<unknown> =>
    ioredis
      ? call('set', key, value, 'PX', ms, ...(nx ? ['NX'] : []))
      : call('set', key, value, { expiration: { type: 'PX', value: ms }, PX: ms, ...(nx ? { condition: 'NX', NX: true } : {}) });
  const release = (key: string, token: string): Promise<unknown> =>
    ioredis ? call('eval', RELEASE, 1, key, token) : call('eval', RELEASE, { keys: [key], arguments: [token] });

  return {
    async get(key) {
      assertStoreKey(key);
      const value = await call('get', `${prefix}value:${key}`);
      // A client set to answer bytes (node-redis typeMapping, Buffer replies) still gives text.
      return typeof value === 'string' ? value : ArrayBuffer.isView(value) ? decoder.decode(value) : null;
    },
    async set(key, value, ttlSeconds) {
      assertStoreKey(key);
      assertStoreValue(value);
      await setPx(`${prefix}value:${key}`, value, ttlMilliseconds(ttlSeconds), false);
    },
    async delete(key) {
      assertStoreKey(key);
      await call('del', `${prefix}value:${key}`);
    },
    async lock(key, ttlSeconds) {
      assertStoreKey(key);
      const ms = ttlMilliseconds(ttlSeconds);
      const lockKey = `${prefix}lock:${key}`;
      const token = lockToken();
      // 'OK' when the key was free; null (NX refused) when another holder has it.
      if ((await setPx(lockKey, token, ms, true)) !== 'OK') return null;
      return async () => {
        await release(lockKey, token);
      };
    },
  };
}
