// @ts-check
/**
 * A request with a cached token through createDPoPFetch, against a plain `fetch` to the same
 * trivial 127.0.0.1 server (the floor), with keep-alive. Measured in the same rounds: a plain
 * fetch carrying headers of the same size (a precomputed proof and token); a trivial WebCrypto
 * call, and a thread-pool call that is not crypto at all, before a plain fetch (what any such
 * hop costs there); the least any DPoP client can do (createProof, then fetch with the token
 * and that proof), the same with the `dpop` package, and oauth4webapi's protectedResourceRequest
 * with its DPoP handle; and one proof on its own, so that what the client adds can be stated
 * in proofs.
 */
import { stat } from 'node:fs/promises';
import { generateProof } from 'dpop';
import * as oauth from 'oauth4webapi';
import { compare, spread } from './measure.mjs';
import { NONCE, startTrivialServer } from './server.mjs';

/**
 * What building a `Request` costs from a URL and from another `Request` (which makes the new
 * one follow the first one's AbortSignal), in µs: the median of five timed loops.
 */
function requestCopyCost() {
  const url = 'http://127.0.0.1:9/api/things/42';
  const time = (/** @type {() => unknown} */ fn, n = 5000) => {
    for (let i = 0; i < n / 5; i++) fn();
    const start = performance.now();
    for (let i = 0; i < n; i++) fn();
    return ((performance.now() - start) * 1000) / n;
  };
  const fromUrl = [];
  const fromRequest = [];
  for (let k = 0; k < 5; k++) {
    const base = time(() => new Request(url));
    fromUrl.push(base);
    fromRequest.push(time(() => new Request(new Request(url), { redirect: 'manual' })) - base);
  }
  return { fromUrl: spread(fromUrl).median, fromRequest: spread(fromRequest).median };
}

/**
 * @param {typeof import('../../dist/index.js')} lib
 * @param {typeof import('../../dist/store/index.js')} stores
 * @param {Parameters<typeof compare>[2]} [options]
 */
export async function benchRequests(lib, stores, options) {
  const server = await startTrivialServer();
  try {
    const url = `${server.origin}/api/things/42`;
    const keyPair = await lib.generateKeyPair();
    const api = lib.createDPoPFetch({
      keyPair,
      tokens: lib.clientCredentials({ tokenEndpoint: `${server.origin}/token`, clientId: 'bench', clientSecret: 'bench-secret' }),
    });
    // The same with a shared store (one memoryStore): its token is written there and kept locally,
    // so a request with it makes no store call (src/sharing/shared-token.ts).
    const shared = lib.createDPoPFetch({
      keyPair,
      tokens: lib.clientCredentials({ tokenEndpoint: `${server.origin}/token`, clientId: 'bench', clientSecret: 'bench-secret' }),
      store: stores.memoryStore(),
    });
    for (const client of [api, shared]) {
      const first = await client(url);
      if (first.status !== 200) throw new Error(`the trivial server answered ${first.status}`);
      await first.arrayBuffer();
    }
    const accessToken = `bench.${'a'.repeat(700)}.token`;
    const proof = await lib.createProof(keyPair, { htm: 'GET', htu: url, accessToken, nonce: NONCE });
    const sameHeaders = { authorization: `DPoP ${accessToken}`, dpop: proof };
    const sixteen = new Uint8Array(16);
    const here = new URL('.', import.meta.url).pathname;
    const o4wDPoP = oauth.DPoP({ client_id: 'bench' }, keyPair);
    const o4wOptions = { DPoP: o4wDPoP, [oauth.allowInsecureRequests]: true };
    const o4wUrl = new URL(url);
    // The handle learns the server's nonce from a first answer, as createDPoPFetch did above.
    await (await oauth.protectedResourceRequest(accessToken, 'GET', o4wUrl, undefined, undefined, o4wOptions)).arrayBuffer();

    const results = await compare(
      { name: 'plain `fetch` (floor)', run: async () => (await fetch(url)).arrayBuffer() },
      [
        { name: 'plain `fetch` with same-size `Authorization` and `DPoP` headers (precomputed)', run: async () => (await fetch(url, { headers: sameHeaders })).arrayBuffer() },
        {
          name: 'any WebCrypto call first: a SHA-256 `digest` of 16 bytes, then plain `fetch`',
          run: async () => {
            await crypto.subtle.digest('SHA-256', sixteen);
            return (await fetch(url)).arrayBuffer();
          },
        },
        {
          name: 'a thread-pool call that is not crypto: `fs.stat`, then plain `fetch`',
          run: async () => {
            await stat(here);
            return (await fetch(url)).arrayBuffer();
          },
        },
        {
          name: 'by hand: `createProof`, then `fetch` with the token and the proof (the least a DPoP client can do)',
          run: async () => {
            const dpop = await lib.createProof(keyPair, { htm: 'GET', htu: url, accessToken, nonce: NONCE });
            return (await fetch(url, { headers: { authorization: `DPoP ${accessToken}`, dpop } })).arrayBuffer();
          },
        },
        {
          name: 'by hand with dpop: `generateProof`, then `fetch`',
          run: async () => {
            const dpop = await generateProof(keyPair, url, 'GET', NONCE, accessToken);
            return (await fetch(url, { headers: { authorization: `DPoP ${accessToken}`, dpop } })).arrayBuffer();
          },
        },
        {
          name: 'oauth4webapi `protectedResourceRequest` with its `DPoP` handle (token held by the caller)',
          run: async () => (await oauth.protectedResourceRequest(accessToken, 'GET', o4wUrl, undefined, undefined, o4wOptions)).arrayBuffer(),
        },
        { name: '`createDPoPFetch`, cached token', run: async () => (await api(url)).arrayBuffer() },
        { name: '`createDPoPFetch` with a `store` (`memoryStore`), cached token', run: async () => (await shared(url)).arrayBuffer() },
        { name: 'one proof alone (`createProof`, with `ath` and `nonce`)', run: () => lib.createProof(keyPair, { htm: 'GET', htu: url, accessToken, nonce: NONCE }) },
      ],
      options,
    );
    const [plain, , anyCrypto, anyThreadPool, byHand, , o4w, client, withStore, oneProof] = results;
    /** What `candidate` adds over a plain fetch, in units of one proof, per round. */
    const added = (/** @type {typeof plain} */ candidate) => spread(candidate.rounds.map((t, r) => (t - plain.rounds[r]) / oneProof.rounds[r]));
    if (server.tokenRequests() !== 2) throw new Error(`expected one token request per client, the server saw ${server.tokenRequests()}`);
    const versus = (/** @type {typeof plain} */ other, /** @type {typeof plain} */ candidate = client) => spread(candidate.rounds.map((t, r) => t / other.rounds[r]));
    return {
      results,
      requestCopy: requestCopyCost(),
      addedInProofs: added(client),
      byHandInProofs: added(byHand),
      anyCryptoInProofs: added(anyCrypto),
      anyThreadPoolInProofs: added(anyThreadPool),
      clientVsByHand: versus(byHand),
      clientVsOauth4webapi: versus(o4w),
      storeVsByHand: versus(byHand, withStore),
    };
  } finally {
    await server.close();
  }
}
