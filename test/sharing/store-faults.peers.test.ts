// Shared stores that fail, hang or lie (src/sharing/guarded-store.ts, shared-token.ts), against
// the real peers: oidc-provider issues the tokens, the oauth4webapi resource server judges every
// token and proof, jose computes the thumbprint each token must be bound to. Whatever the store
// does, every request succeeds with the right key, and no event carries a token.
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import * as jose from 'jose';
import { startPeers, type Exchange, type Peers } from '../../e2e/peers.mjs';
import { clientCredentials, createDPoPFetch, generateKeyPair, type DPoPEvent, type DPoPStore } from '../../src/index.ts';
import { memoryStore } from '../../src/store/index.ts';

let peers: Peers;
const issued: string[] = []; // every access token the authorization server issued
const presented: string[] = []; // every access token the resource server was shown
beforeAll(async () => {
  peers = await startPeers({
    onExchange(exchange: Exchange) {
      if (exchange.server === 'as' && exchange.status === 200 && exchange.url.endsWith('/token')) issued.push(JSON.parse(exchange.responseBody).access_token);
      const token = /^DPoP (.+)$/.exec(String(exchange.requestHeaders.authorization ?? ''))?.[1];
      if (exchange.server === 'rs' && token) presented.push(token);
    },
  });
});
afterAll(() => peers?.close());

const keyPair = await generateKeyPair();
const jkt = await jose.calculateJwkThumbprint((await crypto.subtle.exportKey('jwk', keyPair.publicKey)) as jose.JWK);

/** A store that behaves as `hostile` says, method by method, over a working memory store. */
function hostile(overrides: Partial<Record<keyof DPoPStore, (...args: never[]) => unknown>>): DPoPStore {
  const inner = memoryStore();
  return { get: inner.get, set: inner.set, delete: inner.delete, lock: inner.lock, ...overrides } as DPoPStore;
}

const hang = () => new Promise(() => {});

/** Makes `n` instances on `store`, calls the API `rounds` times from each; returns what happened. */
async function run(store: DPoPStore, { n = 2, rounds = 2, tokenTimeout }: { n?: number; rounds?: number; tokenTimeout?: number } = {}) {
  const events: DPoPEvent[] = [];
  const tokens = () => clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: peers.scope });
  const apis = Array.from({ length: n }, () => createDPoPFetch({ keyPair, tokens: tokens(), store, onEvent: (e) => events.push(e), ...(tokenTimeout ? { tokenTimeout } : {}) }));
  const statuses: number[] = [];
  const jkts = new Set<string>();
  peers.resetCounts();
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    for (const response of await Promise.all(apis.map((api) => api(peers.apiUrl)))) {
      statuses.push(response.status);
      if (response.status !== 200) continue;
      const claims = Object.fromEntries(((await response.json()) as Array<{ type: string; value: string }>).map((c) => [c.type, c.value]));
      jkts.add(JSON.parse(claims.cnf!).jkt);
    }
  }
  const storeErrors = events.filter((e): e is Extract<DPoPEvent, { type: 'store-error' }> => e.type === 'store-error');
  return { statuses, jkts: [...jkts], ms: performance.now() - started, events, storeErrors, counts: { ...peers.counts } };
}

/** Every request 200 with a token bound to this key, and no event that holds a token. */
function expectServed(result: Awaited<ReturnType<typeof run>>) {
  expect(result.statuses.filter((s) => s !== 200)).toEqual([]);
  expect(result.jkts).toEqual([jkt]);
  const text = JSON.stringify(result.events);
  for (const token of issued) expect(text).not.toContain(token);
}

/** An entry as dpop-fetch writes one, with what a test wants in it. */
const entry = (fields: Record<string, unknown>) => JSON.stringify({ v: 1, type: 'DPoP', token: 'x', jkt, iat: Date.now(), exp: Date.now() + 300_000, ...fields });

describe('a store that fails', () => {
  it('every method throws at once → every request 200 with this key; store-error events (name only, no message)', async () => {
    const boom = () => {
      throw new Error('secret-looking message');
    };
    const result = await run(hostile({ get: boom, set: boom, delete: boom, lock: boom }));
    expectServed(result);
    expect(result.storeErrors[0]).toEqual({ type: 'store-error', operation: 'get', reason: 'error', error: 'Error' });
    expect(JSON.stringify(result.events)).not.toContain('secret-looking');
  });

  it('set rejects with an error quoting the value it got (the token) → requests 200; the event holds no token', async () => {
    const result = await run(hostile({ set: async (_key: never, value: never) => Promise.reject(Object.assign(new Error(value), { code: 'EQUOTE' })) }));
    expectServed(result);
    expect(result.storeErrors.map((e) => [e.operation, e.reason, e.error])).toContainEqual(['set', 'error', 'Error EQUOTE']);
  });

  it('every call hangs forever → the first request waits about a second once, then the store rests; all 200', async () => {
    const result = await run(hostile({ get: hang, set: hang, delete: hang, lock: hang }), { n: 2, rounds: 3 });
    expectServed(result);
    expect(result.storeErrors.map((e) => e.reason)).toEqual(['timeout', 'timeout']); // once per instance, then left alone
    expect(result.ms).toBeGreaterThan(1000);
    expect(result.ms).toBeLessThan(4000);
  });

  it('a lock that is always taken by someone who never writes → each instance waits tokenTimeout + 2 s at most, then fetches alone', async () => {
    const result = await run(hostile({ lock: async () => null }), { n: 2, rounds: 1, tokenTimeout: 0.5 });
    expectServed(result);
    expect(result.ms).toBeGreaterThan(1500);
    expect(result.ms).toBeLessThan(5000);
  });

  it('release throws, lock answers a string → requests 200', async () => {
    const inner = memoryStore();
    expectServed(await run(hostile({ lock: async (key: never, ttl: never) => (await inner.lock!(key, ttl)) && (() => Promise.reject(new Error('no'))) })));
    const result = await run(hostile({ lock: async () => 'yes' }));
    expectServed(result);
    expect(result.storeErrors).toContainEqual({ type: 'store-error', operation: 'lock', reason: 'unusable', detail: 'neither a release function nor null' });
  });

  it('a store down, then back → sharing resumes once it has rested: the next instance takes the token from the store', async () => {
    let down = true;
    const inner = memoryStore();
    const flaky = hostile({
      get: (key: never) => (down ? Promise.reject(new Error('down')) : inner.get(key)),
      set: (key: never, value: never, ttl: never) => (down ? Promise.reject(new Error('down')) : inner.set(key, value, ttl)),
      lock: (key: never, ttl: never) => (down ? Promise.reject(new Error('down')) : inner.lock!(key, ttl)),
    });
    expectServed(await run(flaky, { n: 1, rounds: 1 }));
    down = false;
    // The monotonic clock moved on past the rest (5 s), without waiting for it.
    const real = performance.now.bind(performance);
    const spy = vi.spyOn(performance, 'now').mockImplementation(() => real() + 6000);
    onTestFinished(() => spy.mockRestore());
    const writer = await run(flaky, { n: 1, rounds: 1 });
    expectServed(writer);
    expect(writer.counts.token).toBeGreaterThan(0);
    const reader = await run(flaky, { n: 2, rounds: 1 });
    expectServed(reader);
    expect(reader.counts.token).toBe(0);
  });
});

describe('a store that lies', () => {
  for (const [what, value, detail] of [
    ['text that is not JSON', 'not json', 'not JSON'],
    ['JSON of another shape', '{"v":1,"token":"x"}', 'not a token entry of dpop-fetch'],
    ['an array', '[1,2,3]', 'not a token entry of dpop-fetch'],
    ['JSON null', 'null', 'not a token entry of dpop-fetch'],
    ['an entry whose token holds a line break (a header injection)', entry({ token: 'a\r\nx-evil: 1' }), 'not a token entry of dpop-fetch'],
    ['an entry issued an hour in the future', entry({ iat: Date.now() + 3_600_000, exp: Date.now() + 3_900_000 }), 'issued in the future'],
  ] as const) {
    it(`get answers ${what} → ignored and reported; a token is fetched; requests 200 with this key`, async () => {
      const result = await run(hostile({ get: async () => value }));
      expectServed(result);
      expect(result.storeErrors).toContainEqual({ type: 'store-error', operation: 'get', reason: 'unusable', detail });
      expect(result.counts.token).toBeGreaterThan(0);
    });
  }

  it('get answers a number and an object instead of text → ignored and reported; requests 200', async () => {
    for (const value of [42, { v: 1 }]) {
      const result = await run(hostile({ get: async () => value }));
      expectServed(result);
      expect(result.storeErrors).toContainEqual({ type: 'store-error', operation: 'get', reason: 'unusable', detail: 'not a string' });
    }
  });

  it("get answers another key's live token (issued by the real server to that key) → never sent with this key; requests 200 with this key's own token", async () => {
    const other = await generateKeyPair();
    const otherStore = memoryStore();
    await (await createDPoPFetch({ keyPair: other, store: otherStore, tokens: clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: peers.scope }) })(peers.apiUrl)).arrayBuffer();
    const otherToken = issued.at(-1)!; // the token the server just bound to the other key
    const otherJkt = await jose.calculateJwkThumbprint((await crypto.subtle.exportKey('jwk', other.publicKey)) as jose.JWK);
    presented.length = 0;
    const result = await run(hostile({ get: async (key: string) => (key.startsWith('t:') ? entry({ token: otherToken, jkt: otherJkt }) : null) }));
    expectServed(result);
    expect(presented).not.toContain(otherToken);
    expect(result.storeErrors).toContainEqual({ type: 'store-error', operation: 'get', reason: 'unusable', detail: 'a token bound to another key (jkt)' });
  });

  it('get answers an expired entry → a new token is fetched, nothing reported; requests 200', async () => {
    const result = await run(hostile({ get: async (key: string) => (key.startsWith('t:') ? entry({ token: issued[0], iat: Date.now() - 400_000, exp: Date.now() - 100_000 }) : null) }));
    expectServed(result);
    expect(result.storeErrors).toEqual([]);
    expect(result.counts.token).toBeGreaterThan(0);
  });

  it('get answers a forged token for this key → the resource server refuses it once, it is deleted from the store and renewed; requests 200', async () => {
    let forged = true;
    const inner = memoryStore();
    const deletes: string[] = [];
    const store = hostile({
      get: async (key: string) => (forged && key.startsWith('t:') ? entry({ token: 'forged.token.value' }) : inner.get(key)),
      delete: async (key: string) => {
        deletes.push(key);
        forged = false;
        return inner.delete(key);
      },
      set: inner.set,
      lock: inner.lock,
    });
    const result = await run(store, { n: 1, rounds: 2 });
    expectServed(result);
    expect(deletes).toHaveLength(1);
    expect(result.events.filter((e) => e.type === 'token-rejected')).toHaveLength(1);
  });
});
