// The seed's own topology: the token endpoint and the API on ONE origin, as Duende's demo serves
// /connect/token and /api/dpop/test, with nonces demanded at both (RFC 9449 §8 for the
// authorization server, §9 for the resource server: separate nonce spaces). Real peers on one
// port (e2e/peers.mjs, `sameOrigin: true`): oidc-provider and an oauth4webapi resource server.
// Round trips are counted at the servers. Test names read "case → outcome" (README fault table).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPeers, type Exchange, type Peers } from '../e2e/peers.mjs';
import { clientCredentials, createDPoPFetch, generateKeyPair, type DPoPEvent } from '../src/index.ts';
import { failOnUnhandledRejections } from './support/leaks.ts';

failOnUnhandledRejections();

// 3-second tokens: renewed once 1.25 s old (a second of margin, then a quarter of the lifetime).
const TTL = 3;
const RENEWED_AFTER_MS = 1_400;
let peers: Peers;
const wire: Exchange[] = [];
beforeAll(async () => {
  peers = await startPeers({ sameOrigin: true, accessTokenTTL: TTL, onExchange: (e) => wire.push(e) });
});
afterAll(() => peers?.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function client(events: DPoPEvent[] = []) {
  const tokens = clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: peers.scope });
  return createDPoPFetch({ keyPair: await generateKeyPair(), tokens, onEvent: (e) => events.push(e) });
}

/** The round trips of `call`, counted at the one server: token endpoint and API apart. */
async function roundTrips(call: () => Promise<Response>): Promise<{ status: number; token: number; api: number }> {
  peers.resetCounts();
  const response = await call();
  await response.body?.cancel();
  return { status: response.status, ...peers.counts };
}

describe('token endpoint and API on one origin, both demanding nonces (the seed: Duende\'s demo)', () => {
  it('the peers serve both from one origin → the issuer, the token endpoint and the API share it', () => {
    expect(new URL(peers.tokenEndpoint).origin).toBe(new URL(peers.apiUrl).origin);
    expect(new URL(peers.issuer).origin).toBe(new URL(peers.resource).origin);
  });

  it('first contact, steady state, renewal → 2 + 2 round trips, then 1, then 2 per renewal (1 token + 1 API): the two nonces never overwrite each other', async () => {
    const events: DPoPEvent[] = [];
    const api = await client(events);
    expect(await roundTrips(() => api(peers.apiUrl))).toEqual({ status: 200, token: 2, api: 2 });
    expect(await roundTrips(() => api(peers.apiUrl))).toEqual({ status: 200, token: 0, api: 1 });
    for (let renewal = 0; renewal < 2; renewal++) {
      await sleep(RENEWED_AFTER_MS);
      expect(await roundTrips(() => api(peers.apiUrl))).toEqual({ status: 200, token: 1, api: 1 });
      expect(await roundTrips(() => api(peers.apiUrl))).toEqual({ status: 200, token: 0, api: 1 });
    }
    expect(events.filter((e) => e.type === 'token').map((e) => (e as { renewal: boolean }).renewal)).toEqual([false, true, true]);
    // Only the first contact at each server earned a nonce demand.
    expect(events.filter((e) => e.type === 'nonce-retry').map((e) => (e as { server: string }).server)).toEqual(['token', 'resource']);
  });

  it('a streamed (one-shot) upload right after a renewal → 200 on the first try: the API nonce was kept through the token request', async () => {
    const api = await client();
    expect((await roundTrips(() => api(peers.apiUrl))).status).toBe(200);
    await sleep(RENEWED_AFTER_MS);
    const from = wire.length;
    const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('{"streamed":true}')), c.close()) });
    const result = await roundTrips(() => api(peers.echoUrl, { method: 'POST', body, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit));
    expect(result).toEqual({ status: 200, token: 1, api: 1 });
    const upload = wire.slice(from).find((e) => e.server === 'rs')!;
    expect(JSON.parse(upload.responseBody)).toMatchObject({ method: 'POST', bodyBase64: Buffer.from('{"streamed":true}').toString('base64') });
  });
});
