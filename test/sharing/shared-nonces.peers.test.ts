// The servers' nonces shared by a fleet (src/sharing/shared-nonces.ts), judged by the real
// peers: oidc-provider demands its nonce at the token endpoint, the oauth4webapi resource server
// demands its own and rotates it. An instance that joins a fleet sends the nonce the fleet
// learnt, and the servers accept it: no `use_dpop_nonce` round trip. Counts are the servers'.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { startPeers, type Peers } from '../../e2e/peers.mjs';
import { clientCredentials, createDPoPFetch, generateKeyPair, type DPoPEvent, type DPoPStore } from '../../src/index.ts';
import { memoryStore } from '../../src/store/index.ts';

let peers: Peers;
beforeAll(async () => {
  peers = await startPeers();
});
afterAll(() => peers?.close());

const keyPair = await generateKeyPair();
const jkt = await jose.calculateJwkThumbprint((await crypto.subtle.exportKey('jwk', keyPair.publicKey)) as jose.JWK);

function instance(store: DPoPStore, identity = true, events: DPoPEvent[] = []) {
  const source = clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: peers.scope });
  const tokens = identity ? source : { getToken: source.getToken.bind(source) };
  return createDPoPFetch({ keyPair, tokens, store, onEvent: (e) => events.push(e) });
}

/** One request; the servers' counts for it. */
async function counted(api: ReturnType<typeof createDPoPFetch>) {
  peers.resetCounts();
  const response = await api(peers.apiUrl);
  await response.arrayBuffer();
  return { status: response.status, ...peers.counts };
}

describe('nonces shared through the store, accepted by the real servers', () => {
  // First in this file: the sharing code loads here (fetch.ts imports it on the first request
  // with a store), so a change to its module-level nonce pattern is in force for this test.
  it("a stored value that is not a nonce (two words) → reported, never sent: the resource server's demand costs its retry", async () => {
    const store = memoryStore();
    const space = new URL(peers.apiUrl).origin;
    await store.set(`n:${createHash('sha256').update(`${jkt} ${space}`).digest('base64url')}`, 'two words', 60);
    const events: DPoPEvent[] = [];
    expect(await counted(instance(store, true, events))).toEqual({ status: 200, token: 2, api: 2 });
    expect(events.filter((e) => e.type === 'store-error')).toEqual([{ type: 'store-error', operation: 'get', reason: 'unusable', detail: 'a nonce that is not an RFC 9449 nonce' }]);
  });

  it("a new instance's first request → 1 API round trip with the fleet's resource-server nonce; without the store it takes 2", async () => {
    const store = memoryStore();
    expect(await counted(instance(store))).toEqual({ status: 200, token: 2, api: 2 }); // both nonces learnt the hard way
    expect(await counted(instance(store))).toEqual({ status: 200, token: 0, api: 1 }); // token and nonce from the store
    expect(await counted(instance(memoryStore()))).toEqual({ status: 200, token: 2, api: 2 }); // a control: another store, nothing shared
  });

  it("a source without identity shares no token, but the resource server's nonce still: 1 API round trip", async () => {
    const store = memoryStore();
    await counted(instance(store, false));
    const second = await counted(instance(store, false));
    expect(second).toEqual({ status: 200, token: 2, api: 1 });
  });
});
