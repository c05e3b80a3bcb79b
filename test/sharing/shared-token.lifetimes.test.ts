// One token for a fleet (src/sharing/shared-token.ts) at the edges of a token's life: a token
// without expires_in, one too short to keep, one due for renewal that a joining instance finds,
// a renewal that fails in the background, and concurrent requests in one instance. The fake
// servers (test/support/fleet-servers.ts) count every exchange and accept a token only with the
// key it is bound to (jose judges the proofs). Where time matters, the monotonic clock is moved
// by hand: no assertion depends on this machine's speed.
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { clientCredentials, createDPoPFetch, generateKeyPair, type DPoPEvent, type DPoPStore, type TokenSource } from '../../src/index.ts';
import { memoryStore } from '../../src/store/index.ts';
import { API, fleetServers, TOKEN_ENDPOINT, type FleetServers } from '../support/fleet-servers.ts';

const keyPair = await generateKeyPair();
const credentials = () => clientCredentials({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'fleet', clientSecret: 'fleet-secret', scope: 'api' });

/** A store that keeps every value written, to read them back. */
function recorded(store: DPoPStore = memoryStore()) {
  const written: Array<{ key: string; value: string; ttl: number }> = [];
  return { written, store: { ...store, get: store.get, delete: store.delete, lock: store.lock, set: (key: string, value: string, ttl: number) => (written.push({ key, value, ttl }), store.set(key, value, ttl)) } };
}

function instance(servers: FleetServers, store: DPoPStore, tokens: TokenSource = credentials(), fetch = servers.fetch) {
  const events: DPoPEvent[] = [];
  return { events, api: createDPoPFetch({ keyPair, tokens, store, fetch, onEvent: (e) => events.push(e) }) };
}

const status = async (response: Promise<Response>) => {
  const r = await response;
  await r.arrayBuffer();
  return r.status;
};

/** Stops the monotonic clock, for this test: it reads `by.ms` past where it stood. */
function clock() {
  const by = { ms: 0 };
  const base = performance.now();
  const spy = vi.spyOn(performance, 'now').mockImplementation(() => base + by.ms);
  onTestFinished(() => spy.mockRestore());
  return by;
}

/** Waits, a turn of the event loop at a time (at most about a second), until `done()`. */
async function until(done: () => boolean) {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 0)); // and what follows it in the same turn
}

describe('lifetimes', () => {
  it('a token without expires_in → shared as if it lived 300 s; its event says no lifetime; the next instance fetches none', async () => {
    const servers = fleetServers();
    const { store, written } = recorded();
    const inner = credentials();
    const lifeless = (): TokenSource => ({ identity: inner.identity, getToken: async (context) => ({ ...(await inner.getToken(context)), expiresAt: undefined }) });
    const first = instance(servers, store, lifeless());
    expect(await status(first.api(API))).toBe(200);
    expect(first.events.filter((e) => e.type === 'token')).toEqual([{ type: 'token', tokenType: 'DPoP', expiresIn: undefined, renewal: false, scope: 'api' }]);
    const entry = written.find((w) => w.key.startsWith('t:'))!;
    expect(JSON.parse(entry.value).exp - JSON.parse(entry.value).iat).toBe(300_000);
    expect(entry.ttl).toBe(300);
    servers.reset();
    expect(await status(instance(servers, store, lifeless()).api(API))).toBe(200);
    expect(servers.tokenRequests).toBe(0);
  });

  it('a token of 1 s (too short to keep past its second of margin) → serves its request only: never written, the next request fetches again', async () => {
    const servers = fleetServers({ life: 1 });
    const { store, written } = recorded();
    const { api, events } = instance(servers, store);
    expect(await status(api(API))).toBe(200);
    expect(await status(api(API))).toBe(200);
    expect(servers.issued).toHaveLength(2);
    expect(written.filter((w) => w.key.startsWith('t:'))).toEqual([]);
    expect(events.filter((e) => e.type === 'token').map((e) => e.type === 'token' && [e.expiresIn, e.renewal])).toEqual([
      [1, false],
      [1, true],
    ]);
  });

  it('a joining instance finds the entry due for renewal but valid → uses it: no token request', async () => {
    const servers = fleetServers();
    const { store, written } = recorded();
    const old = instance(servers, store);
    expect(await status(old.api(API))).toBe(200);
    const { key, value } = written.find((w) => w.key.startsWith('t:'))!;
    // The entry's token, 280 s into its 300: past renewal (269 s), before expiry (299 s).
    const entry = JSON.parse(value);
    await store.set(key, JSON.stringify({ ...entry, iat: Date.now() - 280_000, exp: Date.now() + 20_000 }), 60);
    servers.reset();
    const joining = instance(servers, store);
    expect(await status(joining.api(API))).toBe(200);
    expect(servers.log).toEqual(['api']); // its token and the API's nonce from the store
    expect(joining.events.filter((e) => e.type === 'token')).toEqual([]);
  });
});

describe('renewal', () => {
  it('a renewal in the background that fails → requests go on with the held token; the next try waits 1 s (not 999 ms)', async () => {
    const servers = fleetServers();
    let down = false;
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) =>
      down && String(input instanceof Request ? input.url : input).startsWith(TOKEN_ENDPOINT) ? Response.json({ error: 'temporarily_unavailable' }, { status: 503 }) : servers.fetch(input, init)) as typeof globalThis.fetch;
    let tries = 0;
    let failed = 0;
    const inner = credentials();
    const counting: TokenSource = {
      identity: inner.identity,
      getToken(context) {
        tries++;
        const got = inner.getToken(context);
        got.catch(() => failed++);
        return got;
      },
    };
    const by = clock();
    const { api } = instance(servers, memoryStore(), counting, fetch);
    expect(await status(api(API))).toBe(200);
    const first = servers.issued[0];
    by.ms = 280_000; // due for renewal (after 269 s), still valid
    down = true;
    expect(await status(api(API))).toBe(200); // with the held token; the renewal fails behind it
    await until(() => failed === 1);
    expect(tries).toBe(2);
    by.ms += 999;
    expect(await status(api(API))).toBe(200);
    expect(tries).toBe(2); // calm: no new try
    by.ms += 1;
    down = false;
    expect(await status(api(API))).toBe(200);
    await until(() => servers.issued.length === 2);
    expect(tries).toBe(3);
    expect(servers.issued).toHaveLength(2);
    expect(servers.issued[0]).toBe(first);
  });

  it('renewBefore: 60 (seconds) → the shared token of 300 s is renewed about 60 s before its end: not at 230 s, at 245 s (30 s before, by default)', async () => {
    const servers = fleetServers();
    const by = clock();
    const api = createDPoPFetch({ keyPair, tokens: credentials(), store: memoryStore(), fetch: servers.fetch, renewBefore: 60 });
    expect(await status(api(API))).toBe(200);
    by.ms = 230_000; // 300 s - 60 s, less a second of margin and the whole seconds of `iat`
    expect(await status(api(API))).toBe(200);
    await until(() => servers.issued.length > 1);
    expect(servers.issued).toHaveLength(1);
    by.ms = 245_000; // with the default 30 s, or 60 ms, this would be before renewal
    expect(await status(api(API))).toBe(200);
    await until(() => servers.issued.length > 1);
    expect(servers.issued).toHaveLength(2);
  });

  it('requests at once in one instance at a cold start → one acquisition, one token, all 200', async () => {
    const servers = fleetServers();
    let tries = 0;
    const inner = credentials();
    const store = memoryStore();
    const locks: number[] = [];
    let deletes = 0;
    const counted = { ...store, delete: (key: string) => (deletes++, store.delete(key)), lock: (key: string, ttl: number) => (locks.push(ttl), store.lock!(key, ttl)) };
    const { api, events } = instance(servers, counted, { identity: inner.identity, getToken: (context) => (tries++, inner.getToken(context)) });
    expect(await Promise.all([1, 2, 3].map(() => status(api(API))))).toEqual([200, 200, 200]);
    expect(tries).toBe(1);
    // One acquisition (the others waited for it, not for the lock), its lock held for tokenTimeout
    // (30 s) and a second, and nothing deleted: no token was refused.
    expect(locks).toEqual([31]);
    expect(deletes).toBe(0);
    expect(servers.issued).toHaveLength(1);
    expect(events.filter((e) => e.type === 'token')).toHaveLength(1);
  });
});
