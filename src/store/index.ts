// `dpop-fetch/store`: shared-store adapters over the application's own client or binding.
// Re-exports only. Nothing here imports a database library: each adapter takes a client and
// checks its shape, so the package keeps zero runtime dependencies.
export type { DPoPStore } from './dpop-store.ts';
export { memoryStore } from './memory.ts';
export { redisStore } from './redis.ts';
export type { RedisClient, RedisStoreOptions } from './redis.ts';
export { denoKvStore } from './deno-kv.ts';
export type { DenoKv, DenoKvAtomic, DenoKvKey, DenoKvStoreOptions } from './deno-kv.ts';
export { workersKvStore } from './workers-kv.ts';
export type { WorkersKvNamespace, WorkersKvStoreOptions } from './workers-kv.ts';
export { durableObjectStore, DPoPStoreObject } from './durable-object.ts';
export type { DurableObjectNamespaceLike, DurableObjectStateLike } from './durable-object.ts';
