// Node 20+, many processes or pods: one key from one secret, one token and the servers' nonces
// shared through Redis (node-redis here; an ioredis client works the same).
import { createClient } from 'redis';
import { clientCredentials, createDPoPFetch, importKeyPair } from 'dpop-fetch';
import { redisStore } from 'dpop-fetch/store';

/**
 * @param {{ tokenEndpoint: string, clientId: string, clientSecret: string, redisUrl: string }} config
 * @param {string} dpopKey the fleet's key, a PEM every instance gets from one secret (e.g. process.env.DPOP_KEY)
 * @param {Omit<import('dpop-fetch').DPoPFetchOptions, 'keyPair' | 'tokens' | 'store'>} [options] e.g. `{ onEvent: console.debug }`
 */
export async function createFleetApi({ tokenEndpoint, clientId, clientSecret, redisUrl }, dpopKey, options = {}) {
  // Every instance imports the same private key, so a token any of them fetched is bound to all.
  const keyPair = await importKeyPair(dpopKey);
  const redis = createClient({ url: redisUrl });
  redis.on('error', () => {}); // it reconnects by itself; meanwhile each instance goes on alone
  await redis.connect();
  const tokens = clientCredentials({ tokenEndpoint, clientId, clientSecret, scope: 'api' });
  const api = createDPoPFetch({ keyPair, tokens, store: redisStore(redis), ...options });
  return { keyPair, api, close: () => redis.close() };
}

// const { api } = await createFleetApi({ tokenEndpoint, clientId, clientSecret: process.env.CLIENT_SECRET, redisUrl: process.env.REDIS_URL }, process.env.DPOP_KEY);
// const res = await api('https://api.example/things'); // one token for all instances, renewed once for all
