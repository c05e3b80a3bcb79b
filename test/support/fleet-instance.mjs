// @ts-check
// One instance of a fleet, for test/sharing/redis.fleet.test.ts: a Node process of its own that
// uses the built package by name, as a service would. It imports the fleet's key from the PEM in
// DPOP_KEY, connects to Redis with node-redis or ioredis, and calls the API when its parent says
// so (IPC), answering with what the API said: status, and the token's claims.
import { clientCredentials, createDPoPFetch, importKeyPair } from 'dpop-fetch';
import { redisStore } from 'dpop-fetch/store';

/** @type {{ redisUrl: string, library: 'node-redis' | 'ioredis', tokenEndpoint: string, clientId: string, clientSecret: string, scope: string, apiUrl: string }} */
const config = JSON.parse(process.argv[2] ?? '{}');

/** @returns {Promise<{ client: any, close: () => Promise<unknown> }>} */
async function connect() {
  if (config.library === 'ioredis') {
    const { default: Redis } = await import('ioredis');
    const client = new Redis(config.redisUrl);
    client.on('error', () => {}); // reconnects by itself; the store reports what failed
    return { client, close: () => client.quit().catch(() => client.disconnect()) };
  }
  const { createClient } = await import('redis');
  const client = createClient({ url: config.redisUrl });
  client.on('error', () => {}); // node-redis throws an 'error' event nobody listens to
  await client.connect();
  return { client, close: () => client.close() };
}

const keyPair = await importKeyPair(/** @type {string} */ (process.env.DPOP_KEY));
const redis = await connect();
/** @type {import('dpop-fetch').DPoPEvent[]} */
const events = [];
const api = createDPoPFetch({
  keyPair,
  tokens: clientCredentials({ tokenEndpoint: config.tokenEndpoint, clientId: config.clientId, clientSecret: config.clientSecret, scope: config.scope }),
  store: redisStore(redis.client),
  onEvent: (event) => events.push(event),
});

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
    await redis.close();
    process.exit(0);
  }
});
process.send?.({ type: 'ready' });
