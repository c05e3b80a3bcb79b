// @ts-check
// One instance of a fleet, for test/sharing/redis.fleet.test.ts: a Node process of its own that
// uses the built package by name, as a service would. With node-redis it runs the README's
// snippet (e2e/snippets/fleet-node.mjs); with ioredis, the same with that client. The fleet's key
// is the PEM in DPOP_KEY. It calls the API when its parent says so (IPC), and answers with what
// the API said: status, and the token's claims.
import { clientCredentials, createDPoPFetch, importKeyPair } from 'dpop-fetch';
import { redisStore } from 'dpop-fetch/store';
import { createFleetApi } from '../../e2e/snippets/fleet-node.mjs';

/** @type {{ redisUrl: string, library: 'node-redis' | 'ioredis', tokenEndpoint: string, clientId: string, clientSecret: string, scope: string, apiUrl: string }} */
const config = JSON.parse(process.argv[2] ?? '{}');

/** @type {import('dpop-fetch').DPoPEvent[]} */
const events = [];
const onEvent = (/** @type {import('dpop-fetch').DPoPEvent} */ event) => void events.push(event);
const dpopKey = /** @type {string} */ (process.env.DPOP_KEY);

/** node-redis: the README's snippet itself. ioredis: the same with the other client. */
async function connect() {
  if (config.library === 'node-redis') return createFleetApi(config, dpopKey, { onEvent });
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(config.redisUrl);
  redis.on('error', () => {}); // reconnects by itself; the store reports what failed
  const tokens = clientCredentials({ tokenEndpoint: config.tokenEndpoint, clientId: config.clientId, clientSecret: config.clientSecret, scope: config.scope });
  const api = createDPoPFetch({ keyPair: await importKeyPair(dpopKey), tokens, store: redisStore(redis), onEvent });
  return { api, close: () => redis.quit().catch(() => redis.disconnect()) };
}

const { api, close } = await connect();

/** One API call: its status, and the claims of the token the API accepted. */
async function call() {
  const at = Date.now();
  try {
    const response = await api(config.apiUrl);
    if (response.status !== 200) return { at, status: response.status, error: (await response.text()).slice(0, 300) };
    const claims = Object.fromEntries(/** @type {Array<{ type: string, value: string }>} */ (await response.json()).map((c) => [c.type, c.value]));
    return { at, status: 200, jti: claims.jti, jkt: JSON.parse(claims.cnf ?? '{}').jkt };
  } catch (err) {
    return { at, status: 0, error: String(err) };
  }
}

process.on('disconnect', () => process.exit(0)); // never outlive the test
process.on('message', async (/** @type {{ type: string, until?: number, pauseMs?: number }} */ message) => {
  if (message.type === 'call') {
    const results = [await call()];
    // Then more, one after another, until the given time (ms since the epoch), if any.
    while (message.until && Date.now() < message.until) {
      await new Promise((resolve) => setTimeout(resolve, message.pauseMs ?? 100));
      results.push(await call());
    }
    process.send?.({ type: 'done', results, events: events.splice(0) });
  }
  if (message.type === 'exit') {
    await close();
    process.exit(0);
  }
});
process.send?.({ type: 'ready' });
