// The seed's topology in Node 20 with the built package: the token endpoint and the API on one
// origin (as Duende's demo serves /connect/token and /api/dpop/test), both demanding nonces.
// The authorization server's nonces and the resource server's are separate spaces (RFC 9449 §8,
// §9): kept apart, first contact costs 2 + 2 round trips, a steady call 1, a renewal 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPeers } from '../peers.mjs';
import { FLOW_PEERS, FLOW_RENEW_BEFORE, independentThumbprint, runFlow } from '../snippets/flow.mjs';
import { createApi } from '../snippets/node.mjs';

/** @type {import('../peers.d.mts').Peers} */
let peers;
/** @type {import('../peers.d.mts').Exchange[]} */
const wire = [];
beforeAll(async () => {
  peers = await startPeers({ ...FLOW_PEERS, sameOrigin: true, onExchange: (e) => wire.push(e) });
});
afterAll(() => peers?.close());

describe('Node 20: token endpoint and API on one origin, the README snippet, built package', () => {
  it('three tokens (two renewals): only the first call at each server earns a nonce demand; every renewal is 1 token + 1 API round trip', async () => {
    expect(new URL(peers.tokenEndpoint).origin).toBe(new URL(peers.apiUrl).origin);
    const { api, keyPair } = await createApi(
      { tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret },
      { renewBefore: FLOW_RENEW_BEFORE },
    );
    const result = await runFlow(() => api(peers.apiUrl), { tokens: 3 });
    expect(result.calls.filter((c) => c.status !== 200)).toEqual([]);
    expect(result.tokenIds).toHaveLength(3);
    expect(result.jkts).toEqual([await independentThumbprint(keyPair.publicKey)]);

    // What the one server saw, by path: the token endpoint answered 400 use_dpop_nonce once,
    // then one 200 per token; the API answered 401 use_dpop_nonce once, then one 200 per call.
    const as = wire.filter((e) => e.server === 'as' && e.url === peers.tokenEndpoint);
    const rs = wire.filter((e) => e.server === 'rs');
    expect(as.map((e) => e.status)).toEqual([400, 200, 200, 200]);
    expect(JSON.parse(as[0].responseBody).error).toBe('use_dpop_nonce');
    expect(rs.map((e) => e.status)).toEqual([401, ...result.calls.map(() => 200)]);
    expect(rs[0].responseHeaders['www-authenticate']).toMatch(/^DPoP .*error="use_dpop_nonce"/);
  });
});
