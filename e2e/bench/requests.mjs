// @ts-check
/**
 * A request with a cached token through createDPoPFetch, against a plain `fetch` to the same
 * trivial 127.0.0.1 server (the floor), with keep-alive. Also measured in the same rounds: a
 * plain fetch that carries headers of the same size (a precomputed proof and token), and one
 * proof on its own, so the client's added cost can be stated in proofs.
 */
import { compare, median } from './measure.mjs';
import { NONCE, startTrivialServer } from './server.mjs';

/**
 * @param {typeof import('../../dist/index.js')} lib
 * @param {Parameters<typeof compare>[2]} [options]
 */
export async function benchRequests(lib, options) {
  const server = await startTrivialServer();
  try {
    const url = `${server.origin}/api/things/42`;
    const keyPair = await lib.generateKeyPair();
    const api = lib.createDPoPFetch({
      keyPair,
      tokens: lib.clientCredentials({ tokenEndpoint: `${server.origin}/token`, clientId: 'bench', clientSecret: 'bench-secret' }),
    });
    const first = await api(url);
    if (first.status !== 200) throw new Error(`the trivial server answered ${first.status}`);
    await first.arrayBuffer();
    const accessToken = `bench.${'a'.repeat(700)}.token`;
    const proof = await lib.createProof(keyPair, { htm: 'GET', htu: url, accessToken, nonce: NONCE });
    const sameHeaders = { authorization: `DPoP ${accessToken}`, dpop: proof };

    const results = await compare(
      { name: 'plain `fetch` (floor)', run: async () => (await fetch(url)).arrayBuffer() },
      [
        { name: 'plain `fetch` with same-size `Authorization` and `DPoP` headers (precomputed)', run: async () => (await fetch(url, { headers: sameHeaders })).arrayBuffer() },
        { name: '`createDPoPFetch`, cached token', run: async () => (await api(url)).arrayBuffer() },
        { name: 'one proof alone (`createProof`, with `ath` and `nonce`)', run: () => lib.createProof(keyPair, { htm: 'GET', htu: url, accessToken, nonce: NONCE }) },
      ],
      options,
    );
    const [plain, , dpop, oneProof] = results;
    // The cost createDPoPFetch adds over a plain fetch, in units of one proof, per round.
    const inProofs = dpop.rounds.map((t, r) => (t - plain.rounds[r]) / oneProof.rounds[r]);
    if (server.tokenRequests() !== 1) throw new Error(`expected one token request, the server saw ${server.tokenRequests()}`);
    return { results, addedInProofs: { median: median(inProofs), min: Math.min(...inProofs), max: Math.max(...inProofs) } };
  } finally {
    await server.close();
  }
}
