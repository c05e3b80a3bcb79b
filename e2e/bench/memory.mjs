// @ts-check
/**
 * Memory: 100,000 requests to 10,000 distinct origins through one createDPoPFetch, answered in
 * process by an injected `fetch` that sends each origin's own `DPoP-Nonce`. The heap is read
 * before, after, and after a full collection. The nonce cache's bound is then shown from the
 * outside: which origins' nonces the client still puts in its proofs, after one request each
 * to BOUND + 1 new origins in turn (in turn, because with 32 in flight the last origins of the
 * big run are touched in an order that timing decides, and a least-recently-used cache keeps
 * whichever were touched last).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// `--expose-gc` inside the process, so that `npm run bench` stays one plain `node` command.
setFlagsFromString('--expose-gc');
/** @type {() => void} */
const gc = runInNewContext('gc');

const ORIGINS = 10_000;
const REQUESTS = 100_000;
const CONCURRENCY = 32;
const BOUND = 1000; // createDPoPFetch's default maxNonces

const originOf = (/** @type {number} */ i) => `https://o${i}.bench.example`;
const nonceOf = (/** @type {string} */ origin) => `n-${origin.slice(9, -14)}`;
/** @param {string} proof */
const nonceIn = (proof) => JSON.parse(Buffer.from(proof.split('.')[1], 'base64url').toString()).nonce;

/**
 * Heap in use after full collections, with the event loop let run between them: objects that
 * undici and AbortSignal release through finalizers and timers are freed only then.
 */
async function collect() {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  gc();
  return process.memoryUsage().heapUsed;
}

/** @param {typeof import('../../dist/index.js')} lib */
export async function benchMemory(lib) {
  let sent = 0;
  let sampled = 0;
  let sampledWithNonce = 0;
  /** @type {string} */
  let lastProof = '';
  /** @type {typeof fetch} */
  const inProcess = async (input) => {
    const request = /** @type {Request} */ (input);
    const origin = request.url.slice(0, request.url.indexOf('/', 8));
    const proof = request.headers.get('dpop');
    if (proof === null) throw new Error('memory benchmark: a request went out without a proof');
    lastProof = proof;
    // Decoding every proof would dominate the run; one in 16 tells how often a nonce is reused.
    if ((++sent & 15) === 0) {
      sampled++;
      if (nonceIn(proof) === nonceOf(origin)) sampledWithNonce++;
    }
    return new Response(null, { status: 204, headers: { 'dpop-nonce': nonceOf(origin) } });
  };
  const token = { accessToken: `mem.${'t'.repeat(600)}.token`, tokenType: /** @type {const} */ ('DPoP'), expiresAt: undefined, receivedAt: Date.now() };
  const api = lib.createDPoPFetch({ keyPair: await lib.generateKeyPair(), tokens: { getToken: async () => token }, fetch: inProcess });

  /** Request i goes to origin offset + floor(i / 10) mod ORIGINS: each origin ten times in a row. */
  const run = async (/** @type {number} */ count, /** @type {number} */ offset) => {
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < count; i = next++) {
        const response = await api(`${originOf(offset + (Math.floor(i / 10) % ORIGINS))}/api/item?i=${i}`);
        if (response.status !== 204) throw new Error(`memory benchmark: status ${response.status}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  };

  /** How many of the origins [from, to) still get their own nonce in the proof. */
  const remembered = async (/** @type {number} */ from, /** @type {number} */ to) => {
    let found = 0;
    for (let i = from; i < to; i++) {
      await api(`${originOf(i)}/probe`);
      if (nonceIn(lastProof) === nonceOf(originOf(i))) found++;
    }
    return found;
  };

  // Warm-up on other origins: fills the nonce cache to its bound and warms the JIT.
  await run(10_000, 1_000_000);
  const before = await collect();
  sent = sampled = sampledWithNonce = 0;
  const start = performance.now();
  await run(REQUESTS, 0);
  const seconds = (performance.now() - start) / 1000;
  const after = process.memoryUsage().heapUsed;
  const afterGc = await collect();
  // BOUND + 1 origins never seen, one request each, in turn; then the last BOUND of them, probed
  // oldest first so that no probe evicts another, must all be remembered, and the first one,
  // visited just before them, must be gone.
  const fresh = 2 * ORIGINS;
  for (let i = fresh; i <= fresh + BOUND; i++) await api(`${originOf(i)}/visit`);
  const kept = await remembered(fresh + 1, fresh + BOUND + 1);
  const dropped = (await remembered(fresh, fresh + 1)) === 0;
  return {
    requests: REQUESTS,
    origins: ORIGINS,
    seconds,
    heap: { before, after, afterGc },
    nonceReuse: sampledWithNonce / sampled,
    nonces: { kept, dropped, bound: BOUND },
  };
}
