// Type-checked by e2e/node/package.test.mjs against the published declarations (dist/*.d.ts):
// every Redis client a user may hold is accepted by redisStore as it comes, without a cast.
import { redisStore, type DPoPStore } from 'dpop-fetch/store';
import type { DPoPStore as CoreDPoPStore } from 'dpop-fetch';
import { createClient, createCluster } from 'redis';
import { createClient as createClient5 } from 'redis-v5';
import { createClient as createClient4 } from 'redis-v4';
import IORedis, { Cluster } from 'ioredis';
import IORedis5 from 'ioredis-v5';

export const stores: DPoPStore[] = [
  redisStore(createClient()),
  redisStore(createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:7000' }] })),
  redisStore(createClient5()),
  redisStore(createClient4()),
  redisStore(new IORedis({ lazyConnect: true })),
  redisStore(new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true }), { prefix: 'app:' }),
  redisStore(new IORedis5({ lazyConnect: true })),
];

// The interface exported by 'dpop-fetch' is the one the adapters implement.
export const same: CoreDPoPStore = stores[0]!;

// The negative control: what is not a Redis client does not type-check.
// @ts-expect-error not a client
redisStore({});
// @ts-expect-error a URL is not a client
redisStore('redis://127.0.0.1:6379');
