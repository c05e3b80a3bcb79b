/**
 * `memoryStore()`: a {@link DPoPStore} in this process's memory, for tests and for several
 * `createDPoPFetch` instances in one process. It shares nothing with other processes.
 */
import { assertStoreKey, assertStoreValue, live, lockToken, ttlMilliseconds, type DPoPStore, type Expiring } from './dpop-store.ts';

/**
 * A {@link DPoPStore} kept in a `Map` in memory: values expire after their TTL, and the lock is
 * compare-and-delete like every other adapter's. Expired entries are dropped on read and swept
 * when the map has doubled since the last sweep, so it never grows without bound.
 *
 * @example
 * import { memoryStore } from 'dpop-fetch/store';
 * const store = memoryStore();
 * await store.set('k', 'v', 60);
 * await store.get('k'); // 'v'
 */
export function memoryStore(): DPoPStore {
  const values = new Map<string, Expiring>();
  const locks = new Map<string, Expiring>(); // value = the holder's token
  let sweepAt = 64;

  function read(map: Map<string, Expiring>, key: string): Expiring | undefined {
    const entry = map.get(key);
    if (entry && !live(entry, Date.now())) map.delete(key);
    return live(entry, Date.now());
  }

  function write(map: Map<string, Expiring>, key: string, value: string, ms: number): void {
    map.set(key, { value, expires: Date.now() + ms });
    if (map.size < sweepAt) return;
    const now = Date.now();
    for (const [k, entry] of map) if (!live(entry, now)) map.delete(k);
    sweepAt = Math.max(64, map.size * 2);
  }

  return {
    async get(key) {
      assertStoreKey(key);
      return read(values, key)?.value;
    },
    async set(key, value, ttlSeconds) {
      assertStoreKey(key);
      assertStoreValue(value);
      write(values, key, value, ttlMilliseconds(ttlSeconds));
    },
    async delete(key) {
      assertStoreKey(key);
      values.delete(key);
    },
    async lock(key, ttlSeconds) {
      assertStoreKey(key);
      const ms = ttlMilliseconds(ttlSeconds);
      if (read(locks, key)) return null;
      const token = lockToken();
      write(locks, key, token, ms);
      return async () => {
        if (read(locks, key)?.value === token) locks.delete(key);
      };
    },
  };
}
