// The first-contact wait of the nonce cache (src/nonce.ts): of a burst of first requests to an
// origin, one learns its nonce and the others wait for it, then carry it. Deterministic: the
// requests of a burst all ask firstContact before any awaits, and a waiter is checked by
// event-loop order, never by time. The
// cache's bound and NQCHAR check are property-tested (property.test.ts); the real resource
// servers' bursts are in fetch.peers.test.ts.
import { describe, expect, it } from 'vitest';
import { createDPoPFetch, generateKeyPair } from '../src/index.ts';
import { createNonceCache } from '../src/nonce.ts';
import { decodeProof, verifyProof } from './helpers.ts';

const keyPair = await generateKeyPair();
const origin = 'https://rs.example';

/** Whether `promise` has settled by the time the event loop turns once (it never waits for time). */
const settled = (promise: Promise<unknown>) => Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(resolve, 0, false))]);

/** A resource server that demands the nonce `n-1` of every proof without it; `failNext` makes the next request a network failure. */
function server() {
  const sent: Request[] = [];
  let fail = false;
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    sent.push(request);
    if (fail) {
      fail = false;
      throw new TypeError('fetch failed');
    }
    const { claims } = decodeProof(request.headers.get('dpop')!);
    if (claims.nonce === 'n-1') return new Response('ok');
    return new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-1' } });
  }) as typeof globalThis.fetch;
  return {
    fetch,
    sent,
    nonces: () => Promise.all(sent.map(async (r) => (await verifyProof(r.headers.get('dpop')!)).payload.nonce)),
    failNext: () => (fail = true),
  };
}

describe('firstContact', () => {
  it('gives the first caller a function, later callers one promise that its call resolves, and known origins neither', async () => {
    const cache = createNonceCache();
    const first = cache.firstContact(origin);
    const second = cache.firstContact(origin);
    const third = cache.firstContact(origin);
    expect(typeof first).toBe('function');
    expect(second).toBeInstanceOf(Promise);
    expect(third).toBe(second);
    expect(await settled(second as Promise<void>)).toBe(false);
    (first as () => void)();
    expect(await settled(second as Promise<void>)).toBe(true);
    cache.learn(origin, new Headers());
    expect(cache.firstContact(origin)).toBeUndefined();
  });

  it('after a first contact that learned nothing (its request failed), the next caller is the first again, and its own waiters wait for it', async () => {
    const cache = createNonceCache();
    (cache.firstContact(origin) as () => void)();
    const again = cache.firstContact(origin);
    expect(typeof again).toBe('function');
    const waiter = cache.firstContact(origin);
    expect(waiter).toBeInstanceOf(Promise);
    expect(await settled(waiter as Promise<void>)).toBe(false);
  });

  it('keeps origins apart: another origin has its own first caller', () => {
    const cache = createNonceCache();
    cache.firstContact(origin);
    expect(typeof cache.firstContact('https://other.example')).toBe('function');
  });
});

describe('a burst of first requests through createDPoPFetch', () => {
  // nonceWait far beyond the test timeout: a waiter that is never woken hangs instead of going on.
  const api = (fetch: typeof globalThis.fetch) => createDPoPFetch({ keyPair, fetch, nonceWait: 60_000 });

  it('3 at once to a server that demands a nonce → 4 requests: the first earns the demand and retries with n-1; the other two wait, then send n-1 at once', async () => {
    const rs = server();
    const call = api(rs.fetch);
    const burst = await Promise.all([1, 2, 3].map(() => call(`${origin}/x`)));
    expect(burst.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await rs.nonces()).toEqual([undefined, 'n-1', 'n-1', 'n-1']);
  });

  it('after a first request that failed at the network → the error surfaces, and the next burst of 3 is again led by one request: 4 requests, not 6', async () => {
    const rs = server();
    const call = api(rs.fetch);
    rs.failNext();
    await expect(call(`${origin}/x`)).rejects.toThrow(TypeError);
    const burst = await Promise.all([1, 2, 3].map(() => call(`${origin}/x`)));
    expect(burst.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await rs.nonces()).slice(1)).toEqual([undefined, 'n-1', 'n-1', 'n-1']);
  });
});
