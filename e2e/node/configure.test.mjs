// The README's three ways to configure (e2e/snippets/configure-*.mjs), run from the built
// package as users import it, against the real peers: each one's first call and its round
// trips as the servers logged them, then a steady call of one round trip.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPeers } from '../peers.mjs';
import { claimsOf } from '../snippets/flow.mjs';
import * as endpoints from '../snippets/configure-endpoints.mjs';
import * as issuer from '../snippets/configure-issuer.mjs';
import * as apiUrl from '../snippets/configure-api-url.mjs';

/** @type {import('../peers.d.mts').Exchange[]} */
const wire = [];
/** @type {import('../peers.d.mts').Peers[]} */
const started = [];
afterAll(() => Promise.all(started.map((p) => p.close())));

/** Fresh peers (nothing cached from another case), and what they saw from then on. */
async function fresh() {
  const peers = await startPeers({ onExchange: (e) => wire.push(e) });
  started.push(peers);
  const from = wire.length;
  const seen = () => wire.slice(from).filter((e) => e.url.startsWith(peers.issuer) || e.url.startsWith(peers.resource)).map((e) => `${e.method} ${new URL(e.url).pathname} ${e.status}`);
  return { peers, seen };
}

/** Two calls; the token's claims; the round trips of each. */
async function twoCalls(api, url, seen) {
  const res = await api(url);
  expect(res.status).toBe(200);
  const claims = claimsOf(await res.json());
  const first = seen();
  const again = await api(url);
  await again.body?.cancel();
  return { claims, first, second: seen().slice(first.length), status: again.status };
}

describe('README: three ways to configure', () => {
  it('1. endpoints: 2 token + 2 API round trips on first contact, then 1', async () => {
    const { peers, seen } = await fresh();
    const api = await endpoints.createApi({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret });
    const { claims, first, second, status } = await twoCalls(api, peers.apiUrl, seen);
    expect(first).toEqual(['POST /token 400', 'POST /token 200', 'GET /api/dpop/test 401', 'GET /api/dpop/test 200']);
    expect([second, status]).toEqual([['GET /api/dpop/test 200'], 200]);
    expect(claims.client_id).toBe(peers.clientId);
  });

  it('2. issuer: one metadata request more, then the same', async () => {
    const { peers, seen } = await fresh();
    const api = await issuer.createApi({ issuer: peers.issuer, clientId: peers.clientId, clientSecret: peers.clientSecret });
    const { first, second } = await twoCalls(api, peers.apiUrl, seen);
    expect(first).toEqual(['GET /.well-known/oauth-authorization-server 200', 'POST /token 400', 'POST /token 200', 'GET /api/dpop/test 401', 'GET /api/dpop/test 200']);
    expect(second).toEqual(['GET /api/dpop/test 200']);
  });

  it("3. the API's URL only: the two metadata requests more, the API's nonce learnt from its first answer", async () => {
    const { peers, seen } = await fresh();
    const api = await apiUrl.createApi({ apiUrl: peers.apiUrl, clientId: peers.clientId, clientSecret: peers.clientSecret });
    const { claims, first, second } = await twoCalls(api, peers.apiUrl, seen);
    expect(first).toEqual([
      'GET /api/dpop/test 401',
      'GET /.well-known/oauth-protected-resource 200',
      'GET /.well-known/oauth-authorization-server 200',
      'POST /token 400',
      'POST /token 200',
      'GET /api/dpop/test 200',
    ]);
    expect(second).toEqual(['GET /api/dpop/test 200']);
    expect(claims.aud).toBe(peers.resource);
    expect(JSON.parse(claims.cnf).jkt).toMatch(/^[\w-]{43}$/);
    // allowedOrigins: another origin gets a plain request, no token.
    const elsewhere = await api(`${peers.issuer}/jwks`);
    expect(elsewhere.status).toBe(200);
    expect(wire.at(-1).requestHeaders.authorization).toBeUndefined();
  });
});
