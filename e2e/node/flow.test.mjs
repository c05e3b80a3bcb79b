// The end-to-end flow in Node 20 with the built package, imported by its own name as users do
// ('dpop-fetch' resolves through package.json `exports` to dist/), against the real peers.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPeers } from '../peers.mjs';
import { FLOW_PEERS, FLOW_RENEW_BEFORE, independentThumbprint, runFlow } from '../snippets/flow.mjs';
import { createApi } from '../snippets/node.mjs';

/** @type {import('../peers.d.mts').Peers} */
let peers;
/** @type {import('../peers.d.mts').Exchange[]} */
const wire = [];
beforeAll(async () => {
  peers = await startPeers({ ...FLOW_PEERS, onExchange: (e) => wire.push(e) });
});
afterAll(() => peers?.close());

describe('Node 20: the README snippet, built package, real peers', () => {
  it("'dpop-fetch' resolves to this package's dist/ (what npm users get)", () => {
    const resolved = createRequire(import.meta.url).resolve('dpop-fetch');
    expect(resolved).toBe(fileURLToPath(new URL('../../dist/index.js', import.meta.url)));
  });

  it('key, token with nonce, API calls with nonce, renewal: every call 200, tokens bound to our key', async () => {
    /** @type {import('dpop-fetch').DPoPEvent[]} */
    const events = [];
    const { api, keyPair } = await createApi(
      { tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret },
      { renewBefore: FLOW_RENEW_BEFORE, onEvent: (e) => events.push(e) },
    );
    expect(keyPair.privateKey.extractable).toBe(false);
    const result = await runFlow(() => api(peers.apiUrl));

    expect(result.calls.filter((c) => c.status !== 200)).toEqual([]);
    expect(result.tokenIds).toHaveLength(2); // the resource server accepted a renewed token
    expect(result.jkts).toEqual([await independentThumbprint(keyPair.publicKey)]);
    expect(result.calls.every((c) => c.claims?.authorization_scheme === 'DPoP')).toBe(true);

    // What the servers sent on the wire, recorded by the peers: the first token request and
    // the first API call were each refused for want of a nonce, then retried once with it.
    const first = (/** @type {'as' | 'rs'} */ server) => wire.filter((e) => e.server === server && e.method !== 'OPTIONS').slice(0, 2);
    expect(first('as').map((e) => [e.status, JSON.parse(e.responseBody).error])).toEqual([[400, 'use_dpop_nonce'], [200, undefined]]);
    expect(first('rs').map((e) => e.status)).toEqual([401, 200]);
    expect(first('rs')[0].responseHeaders['www-authenticate']).toMatch(/^DPoP .*error="use_dpop_nonce"/);

    expect(events.filter((e) => e.type === 'nonce-retry').slice(0, 2)).toEqual([
      { type: 'nonce-retry', server: 'token', url: peers.tokenEndpoint },
      { type: 'nonce-retry', server: 'resource', url: peers.apiUrl },
    ]);
    const tokenEvents = events.filter((e) => e.type === 'token');
    expect(tokenEvents.map((e) => e.renewal)).toEqual([false, true]);
    expect(events.filter((e) => e.type === 'token-rejected')).toEqual([]);
  });

  it('outside a browser no CORS hides DPoP-Nonce: the same servers that break a page work here', async () => {
    // The counterpart of the browser suite's ERR_NONCE_MISSING: the headers are sent either way,
    // only a browser enforces Access-Control-Expose-Headers.
    const hidden = await startPeers({ ...FLOW_PEERS, corsOrigins: ['http://127.0.0.1:1'], exposeNonce: false });
    try {
      const { api } = await createApi({ tokenEndpoint: hidden.tokenEndpoint, clientId: hidden.clientId, clientSecret: hidden.clientSecret });
      const res = await api(hidden.apiUrl, { headers: { origin: 'http://127.0.0.1:1' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-expose-headers')).toBe('WWW-Authenticate');
      await res.body?.cancel();
    } finally {
      await hidden.close();
    }
  });
});
