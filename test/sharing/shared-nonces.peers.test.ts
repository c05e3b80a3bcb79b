// The servers' nonces shared by a fleet (src/sharing/shared-nonces.ts), judged by the real
// peers: oidc-provider demands its nonce at the token endpoint, the oauth4webapi resource server
// demands its own and rotates it. An instance that joins a fleet sends the nonce the fleet
// learnt, and the servers accept it: no `use_dpop_nonce` round trip. Counts are the servers'.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPeers, type Peers } from '../../e2e/peers.mjs';
import { clientCredentials, createDPoPFetch, generateKeyPair, type DPoPStore } from '../../src/index.ts';
import { memoryStore } from '../../src/store/index.ts';

let peers: Peers;
beforeAll(async () => {
  peers = await startPeers();
});
afterAll(() => peers?.close());

const keyPair = await generateKeyPair();

function instance(store: DPoPStore, identity = true) {
  const source = clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: peers.scope });
  const tokens = identity ? source : { getToken: source.getToken.bind(source) };
  return createDPoPFetch({ keyPair, tokens, store });
}

/** One request; the servers' counts for it. */
async function counted(api: ReturnType<typeof createDPoPFetch>) {
  peers.resetCounts();
  const response = await api(peers.apiUrl);
  await response.arrayBuffer();
  return { status: response.status, ...peers.counts };
}

describe('nonces shared through the store, accepted by the real servers', () => {
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
