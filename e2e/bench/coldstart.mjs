// @ts-check
/**
 * A cold start of N instances, counted by the real peers (oidc-provider with nonces required, and
 * the oauth4webapi resource server demanding its own): N `createDPoPFetch` instances, each with
 * its own caches, make their first request at once; then N new instances do the same (a warm
 * start: the fleet already holds a token). Without a store, each instance fetches its own token;
 * with Redis (a real redis-server, one ioredis connection per instance, the fleet's one key),
 * they share it. Not timed: token requests and round trips.
 */
import { createRequire } from 'node:module';
import { startPeers } from '../peers.mjs';
import { startRedis } from '../redis-server.mjs';

/**
 * @param {typeof import('../../dist/index.js')} lib
 * @param {typeof import('../../dist/store/index.js')} stores
 * @param {number[]} sizes
 */
export async function benchColdStart(lib, stores, sizes = [1, 8, 32]) {
  let issued = 0;
  const peers = await startPeers({
    onExchange(exchange) {
      if (exchange.server === 'as' && exchange.status === 200 && new URL(exchange.url).pathname === '/token') issued++;
    },
  });
  /** @type {import('../redis-server.d.mts').RedisServer | undefined} */
  let redis;
  try {
    redis = await startRedis();
  } catch {
    process.stderr.write('cold start: no redis-server, so no figures with a store\n');
  }
  const { default: Redis } = /** @type {{ default: typeof import('ioredis').default }} */ (await import(createRequire(import.meta.url).resolve('ioredis')));
  /** @type {Array<{ close(): Promise<unknown> }>} */
  const connections = [];
  try {
    const tokens = () => lib.clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: peers.scope });
    /** N instances' first requests, at once; what the servers saw. */
    const wave = async (/** @type {Array<(input: string) => Promise<Response>>} */ apis) => {
      peers.resetCounts();
      issued = 0;
      const responses = await Promise.all(apis.map((api) => api(peers.apiUrl)));
      await Promise.all(responses.map((r) => r.arrayBuffer()));
      const failed = responses.find((r) => r.status !== 200);
      if (failed) throw new Error(`cold-start benchmark: a request failed (HTTP ${failed.status})`);
      return { tokens: issued, tokenTrips: peers.counts.token, apiTrips: peers.counts.api };
    };
    const rows = [];
    for (const n of sizes) {
      const alone = await wave(await Promise.all(Array.from({ length: n }, async () => lib.createDPoPFetch({ keyPair: await lib.generateKeyPair(), tokens: tokens() }))));
      let cold;
      let warm;
      if (redis) {
        const keyPair = await lib.generateKeyPair(); // the fleet's key (each would import it from one secret)
        const prefix = `bench-${n}-${crypto.randomUUID()}:`; // a store of its own: a cold start
        const fleet = () =>
          Array.from({ length: n }, () => {
            const client = new Redis(/** @type {string} */ (redis?.url));
            connections.push({ close: () => client.quit() });
            return lib.createDPoPFetch({ keyPair, tokens: tokens(), store: stores.redisStore(client, { prefix }) });
          });
        cold = await wave(fleet());
        warm = await wave(fleet());
      }
      rows.push({ n, alone, cold, warm });
    }
    return rows;
  } finally {
    await Promise.allSettled(connections.map((c) => c.close()));
    await redis?.stop();
    await peers.close();
  }
}
