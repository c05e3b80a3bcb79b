// @ts-check
/**
 * HTTP round trips against real peers that both demand nonces (oidc-provider with DPoP nonces
 * required, and a resource server that validates with oauth4webapi and demands its own
 * nonce), counted by the servers: the first request of a client, a request in steady state,
 * and 100 concurrent first requests on a fresh client. Not timed.
 */
import { startPeers } from '../peers.mjs';

/** @param {typeof import('../../dist/index.js')} lib */
export async function benchRoundTrips(lib) {
  const peers = await startPeers();
  try {
    const client = async () =>
      lib.createDPoPFetch({
        keyPair: await lib.generateKeyPair(),
        tokens: lib.clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: peers.scope }),
      });
    /** @param {() => Promise<Response[]>} run */
    const count = async (run) => {
      peers.resetCounts();
      const responses = await run();
      const statuses = responses.map((r) => r.status);
      await Promise.all(responses.map((r) => r.arrayBuffer()));
      if (statuses.some((s) => s !== 200)) throw new Error(`round-trip benchmark: a request failed (HTTP ${statuses.find((s) => s !== 200)})`);
      return { ...peers.counts, requests: responses.length };
    };

    const api = await client();
    const first = await count(async () => [await api(peers.apiUrl)]);
    const steady = await count(async () => [await api(peers.apiUrl)]);
    const fresh = await client();
    const concurrent = await count(() => Promise.all(Array.from({ length: 100 }, () => fresh(peers.apiUrl))));
    return { first, steady, concurrent };
  } finally {
    await peers.close();
  }
}
