// One token per fleet (src/sharing/shared-token.ts, share.ts): several createDPoPFetch
// instances in this process, each with its own caches, share a memoryStore as processes share
// Redis. The fake servers (test/support/fleet-servers.ts) count every exchange, demand nonces,
// and accept a token only with the key it is bound to (jose judges the proofs). The same
// behaviour across real processes and engines: redis.fleet.test.ts, deno-kv.fleet.test.ts and
// e2e/workers.
import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { clientCredentials, createDPoPFetch, generateKeyPair, type DPoPEvent, type DPoPStore, type TokenSource } from '../../src/index.ts';
import { memoryStore } from '../../src/store/index.ts';
import { API, fleetServers, TOKEN_ENDPOINT, type FleetServers } from '../support/fleet-servers.ts';

const keyPair = await generateKeyPair();
const jkt = await jose.calculateJwkThumbprint((await crypto.subtle.exportKey('jwk', keyPair.publicKey)) as jose.JWK);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A store that counts the calls it gets and keeps every value written, to read them back. */
function counted(store: DPoPStore = memoryStore(), { lock = true } = {}) {
  const calls: string[] = [];
  const written: Array<{ key: string; value: string; ttl: number }> = [];
  const wrapped: DPoPStore = {
    get: (key) => (calls.push('get'), store.get(key)),
    set: (key, value, ttl) => (calls.push('set'), written.push({ key, value, ttl }), store.set(key, value, ttl)),
    delete: (key) => (calls.push('delete'), store.delete(key)),
    ...(lock && { lock: (key: string, ttl: number) => (calls.push('lock'), store.lock!(key, ttl)) }),
  };
  return { store: wrapped, calls, written };
}

interface Instance {
  api: ReturnType<typeof createDPoPFetch>;
  events: DPoPEvent[];
}

function instances(n: number, servers: FleetServers, store: DPoPStore, extra: Record<string, unknown> = {}, tokens?: () => TokenSource): Instance[] {
  return Array.from({ length: n }, () => {
    const events: DPoPEvent[] = [];
    const source = tokens?.() ?? clientCredentials({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'fleet', clientSecret: 'fleet-secret', scope: 'api' });
    return { events, api: createDPoPFetch({ keyPair, tokens: source, store, fetch: servers.fetch, onEvent: (e) => events.push(e), ...extra }) };
  });
}

/** One request from every instance at once; every status. */
async function all(fleet: Instance[]): Promise<number[]> {
  const responses = await Promise.all(fleet.map(({ api }) => api(API)));
  return Promise.all(responses.map(async (r) => (await r.arrayBuffer(), r.status)));
}

describe('one token for instances that share a store', () => {
  it('8 instances start together → 1 token (2 token round trips with its nonce retry), every request 200 with the shared key', async () => {
    const servers = fleetServers();
    const fleet = instances(8, servers, memoryStore());
    expect(await all(fleet)).toEqual(Array(8).fill(200));
    expect(servers.issued).toHaveLength(1);
    expect(servers.tokenRequests).toBe(2);
    expect([...servers.keysUsed]).toEqual([jkt]);
    expect(fleet.flatMap((i) => i.events.filter((e) => e.type === 'token'))).toHaveLength(1);
  });

  it('a second wave of 8 → no token request, and each first request is 1 API round trip (the nonce came from the store)', async () => {
    const servers = fleetServers();
    const store = memoryStore();
    await all(instances(8, servers, store));
    servers.reset();
    expect(await all(instances(8, servers, store))).toEqual(Array(8).fill(200));
    expect(servers.tokenRequests).toBe(0);
    expect(servers.apiRequests).toBe(8);
  });

  it('steady state → no store call for a request with a usable token', async () => {
    const servers = fleetServers();
    const { store, calls } = counted();
    const [one] = instances(1, servers, store);
    await all([one!]);
    calls.length = 0;
    for (let i = 0; i < 20; i++) expect((await one!.api(API)).status).toBe(200);
    expect(calls).toEqual([]);
  });

  it('tokens due for renewal → renewed once for the fleet, while requests go on with the old token', async () => {
    const servers = fleetServers({ life: 2 }); // kept 1 s (a second's margin), renewed after 0.5 s
    const fleet = instances(4, servers, memoryStore());
    const statuses: number[] = [];
    const until = performance.now() + 2600;
    while (performance.now() < until) {
      statuses.push(...(await all(fleet)));
      await sleep(20);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    // One token per renewal period (0.5 s) for the fleet, not one per instance: 4 instances
    // renewing each on their own would need about 4 × 6.
    expect(servers.issued.length).toBeGreaterThanOrEqual(3);
    expect(servers.issued.length).toBeLessThanOrEqual(7);
  });

  it('a token due for renewal while the token endpoint is slow → requests go on at once with it; the next ones get the new token', async () => {
    const servers = fleetServers({ life: 4, tokenDelayMs: 400 }); // kept 3 s, renewed after 2 s
    const [a, b] = instances(2, servers, memoryStore());
    await all([a!, b!]);
    const first = servers.issued[0]!;
    await sleep(2100);
    const started = performance.now();
    const due = await Promise.all([a!.api(API), b!.api(API)]);
    expect(performance.now() - started).toBeLessThan(300); // not held for the 400 ms token request
    expect(await Promise.all(due.map((r) => r.text()))).toEqual([first, first]);
    await sleep(900); // the renewal (400 ms), and b's next look at the store (it looks every 250 ms at most)
    const renewed = await Promise.all([a!.api(API), b!.api(API)]);
    const tokens = await Promise.all(renewed.map((r) => r.text()));
    expect(tokens[0]).not.toBe(first);
    expect(tokens[1]).toBe(tokens[0]);
    expect(servers.issued).toHaveLength(2);
  });

  it('401 invalid_token on a stored token → the entry is deleted only while it holds that token, and renewed once', async () => {
    const refuse = new Set<string>();
    const servers = fleetServers({ refuse });
    const { store, calls } = counted();
    const [a, b] = instances(2, servers, store);
    await all([a!, b!]);
    const first = servers.issued[0]!;
    refuse.add(first); // revoked
    calls.length = 0;
    expect((await a!.api(API)).status).toBe(200); // refused, renewed once, retried
    expect(servers.issued).toHaveLength(2);
    expect(calls).toContain('delete');
    // b still holds the revoked token; its refusal finds the entry holds the new one: not deleted, and no new token.
    calls.length = 0;
    expect((await b!.api(API)).status).toBe(200);
    expect(servers.issued).toHaveLength(2);
    expect(calls).not.toContain('delete');
    expect(b!.events.filter((e) => e.type === 'token-rejected')).toHaveLength(1);
  });

  it('a refused token whose entry holds another one by now (here an expired one) → that entry is not deleted', async () => {
    const refuse = new Set<string>();
    const servers = fleetServers({ refuse });
    const { store, calls, written } = counted();
    const [a] = instances(1, servers, store);
    await all([a!]);
    // Another instance has written another token there since, which has expired.
    const { key, value } = written.find((w) => w.key.startsWith('t:'))!;
    const other = { ...JSON.parse(value), token: 'at-other', iat: Date.now() - 400_000, exp: Date.now() - 100_000 };
    await store.set(key, JSON.stringify(other), 60);
    refuse.add(servers.issued[0]!);
    calls.length = 0;
    expect((await a!.api(API)).status).toBe(200); // refused, renewed once, retried
    expect(calls).not.toContain('delete');
    expect(servers.issued).toHaveLength(2);
  });

  it('a store without lock (Workers KV) → instances that start together may each fetch one, all succeed; later ones fetch none', async () => {
    const servers = fleetServers();
    const { store } = counted(memoryStore(), { lock: false });
    expect(await all(instances(4, servers, store))).toEqual(Array(4).fill(200));
    expect(servers.issued.length).toBeGreaterThanOrEqual(1);
    expect(servers.issued.length).toBeLessThanOrEqual(4);
    servers.reset();
    expect(await all(instances(4, servers, store))).toEqual(Array(4).fill(200));
    expect(servers.tokenRequests).toBe(0);
  });

  it('a lock holder that dies → the others wait for its lock to expire, then one fetches', async () => {
    const servers = fleetServers();
    const store = memoryStore();
    let locked!: () => void;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    // The dead instance: it takes the lock, its token request never ends, it never lets go.
    const dead: DPoPStore = { ...store, get: store.get, set: store.set, delete: store.delete, lock: async (key, ttl) => (locked(), (await store.lock!(key, ttl)) && (async () => {})) };
    const [zombie] = instances(1, servers, dead, { tokenTimeout: 0.5 }, () => ({ identity: clientCredentials({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'fleet', clientSecret: 'fleet-secret', scope: 'api' }).identity, getToken: () => new Promise(() => {}) }));
    void zombie!.api(API);
    await holding;
    const started = performance.now();
    const [survivor] = instances(1, servers, store, { tokenTimeout: 0.5 });
    expect((await survivor!.api(API)).status).toBe(200);
    // The lock lives tokenTimeout + 1 s: the survivor waited for it, no longer than it and a second.
    expect(performance.now() - started).toBeGreaterThan(1000);
    expect(performance.now() - started).toBeLessThan(3500);
    expect(servers.issued).toHaveLength(1);
  });
});

describe('what is shared, and under which name', () => {
  it('the store holds the DPoP token, its scope, expiry and jkt → never the client secret, a refresh token, or the private key', async () => {
    const servers = fleetServers();
    const { store, written } = counted();
    await all(instances(2, servers, store));
    const token = written.find((w) => w.key.startsWith('t:'))!;
    expect(token.key).toMatch(/^t:[A-Za-z0-9_-]{43}$/);
    const entry = JSON.parse(token.value);
    expect(Object.keys(entry).sort()).toEqual(['as', 'exp', 'iat', 'jkt', 'scope', 'token', 'type', 'v']);
    expect(entry).toMatchObject({ v: 1, type: 'DPoP', token: servers.issued[0], jkt, as: 'https://as.example AS' });
    expect(entry.exp - entry.iat).toBe(300_000);
    expect(token.ttl).toBe(300);
    const everything = written.map((w) => `${w.key} ${w.value}`).join('\n');
    expect(everything).not.toContain('fleet-secret');
    const pkcs8 = await crypto.subtle.exportKey('jwk', (await generateKeyPair({ extractable: true })).privateKey);
    expect(everything).not.toContain(pkcs8.d); // (a control: no `d` member at all)
    expect(everything).not.toMatch(/"d"/);
    // Nonces: one entry per server and nonce space, named by a hash too.
    expect(written.filter((w) => w.key.startsWith('n:')).map((w) => [w.value, w.ttl])).toEqual(
      expect.arrayContaining([
        ['as-nonce-1', 120],
        ['rs-nonce-1', 120],
      ]),
    );
  });

  it('a nonce is written when it changes, not on every answer', async () => {
    const servers = fleetServers();
    const { store, written } = counted();
    const [one] = instances(1, servers, store);
    for (let i = 0; i < 10; i++) await one!.api(API);
    await sleep(1100); // past the one-write-a-second bound: only the unchanged nonce keeps it from being written again
    for (let i = 0; i < 10; i++) await one!.api(API);
    expect(written.filter((w) => w.value === 'rs-nonce-1')).toHaveLength(1);
  });

  it('another client id, scope, resource, token endpoint or key → another entry: two clients never share one', async () => {
    const servers = fleetServers();
    const store = memoryStore();
    const base = { tokenEndpoint: TOKEN_ENDPOINT, clientId: 'fleet', clientSecret: 'fleet-secret', scope: 'api' };
    const variants = [base, { ...base, clientId: 'other' }, { ...base, scope: 'api admin' }, { ...base, resource: 'https://api.example/' }, { ...base, tokenEndpoint: 'https://as.example/token2' }];
    for (const options of variants) {
      const api = createDPoPFetch({ keyPair, store, fetch: servers.fetch, tokens: clientCredentials(options) });
      await (await api(API)).arrayBuffer();
    }
    const other = await generateKeyPair();
    await (await createDPoPFetch({ keyPair: other, store, fetch: servers.fetch, tokens: clientCredentials(base) })(API)).arrayBuffer();
    expect(servers.issued.length).toBe(6);
  });

  it('a Bearer token is never written → the entry says only that each instance fetches its own', async () => {
    const servers = fleetServers({ tokenType: 'Bearer' });
    const { store, written } = counted();
    expect(await all(instances(3, servers, store))).toEqual([200, 200, 200]);
    const values = written.filter((w) => w.key.startsWith('t:')).map((w) => JSON.parse(w.value));
    expect(values.length).toBeGreaterThan(0);
    for (const value of values) expect(Object.keys(value).sort()).toEqual(['as', 'exp', 'iat', 'type', 'v']);
    expect(JSON.stringify(written)).not.toContain('at-');
    // Another instance reads that entry as it is meant: nothing reported, no lock, its own token.
    const { store: later, calls } = counted(store);
    const [next] = instances(1, servers, later);
    expect(await all([next!])).toEqual([200]);
    expect(calls).not.toContain('lock');
    expect(next!.events.filter((e) => e.type === 'store-error')).toEqual([]);
  });

  it('a token source without identity → its tokens are not shared; nonces are', async () => {
    const servers = fleetServers();
    const store = memoryStore();
    const custom = () => {
      const inner = clientCredentials({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'fleet', clientSecret: 'fleet-secret' });
      return { getToken: (context: Parameters<TokenSource['getToken']>[0]) => inner.getToken(context) };
    };
    const fleet = instances(3, servers, store, {}, custom);
    await all(fleet);
    expect(servers.issued).toHaveLength(3);
    // Not a user's tokens held back from a store of many users: nothing is reported as refused.
    expect(fleet.flatMap((i) => i.events.filter((e) => e.type === 'store-error'))).toEqual([]);
    servers.reset();
    await all(instances(1, servers, store, {}, custom));
    // The API's nonce came from the store; the token endpoint's is found through the shared
    // token entry, which a source without identity has not: one nonce retry there.
    expect(servers.log).toEqual(['token', 'token', 'api']);
  });

  it('a token source reaches the store and the lock through context.shared, holding the lock while it runs', async () => {
    const servers = fleetServers();
    const { store, calls } = counted();
    const seen: Array<{ key: string; locked: boolean }> = [];
    const inner = clientCredentials({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'fleet', clientSecret: 'fleet-secret' });
    const source: TokenSource = {
      identity: 'my source',
      async getToken(context) {
        const { store: shared, key, locked } = context.shared!;
        seen.push({ key, locked });
        expect(await shared.lock!(key, 5)).toBeNull(); // this instance holds it
        await shared.set(`${key}:mine`, 'kept by the source', 60);
        return inner.getToken(context);
      },
    };
    await all(instances(2, servers, store, {}, () => source));
    expect(seen).toEqual([{ key: expect.stringMatching(/^t:[A-Za-z0-9_-]{43}$/), locked: true }]);
    expect(await store.get(`${seen[0]!.key}:mine`)).toBe('kept by the source');
    expect(calls.filter((c) => c === 'lock').length).toBeGreaterThan(1);
  });
});

describe('identities of the built-in token sources', () => {
  it('say which tokens, never with a secret, code, verifier or refresh token', async () => {
    const { authorizationCode, refreshToken } = await import('../../src/index.ts');
    const cc = clientCredentials({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'c', clientSecret: 'the-secret', scope: ['a', 'b'], resource: 'https://api.example/', params: { audience: 'x' } });
    expect(cc.identity).toBe(`${TOKEN_ENDPOINT} c audience=x&grant_type=client_credentials&scope=a+b&resource=https%3A%2F%2Fapi.example%2F`);
    const rt = refreshToken({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'spa', refreshToken: 'the-refresh-token' });
    const code = authorizationCode({ tokenEndpoint: TOKEN_ENDPOINT, clientId: 'spa', redirectUri: 'https://app.example/cb', code: 'the-code', codeVerifier: 'v'.repeat(43) });
    expect(rt.identity).toBe(`${TOKEN_ENDPOINT} spa grant_type=refresh_token`);
    expect(code.identity).toBe(rt.identity); // a page signed in by code and one resumed by refresh token share
    for (const identity of [cc.identity, rt.identity, code.identity]) expect(identity).not.toMatch(/the-secret|the-refresh-token|the-code|vvvv/);
  });
});

describe('createDPoPFetch checks the store at the door', () => {
  const type = (message: string) => ({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message });
  const thrown = (store: unknown) => {
    try {
      createDPoPFetch({ keyPair, store: store as DPoPStore });
    } catch (err) {
      const { name, code, message } = err as TypeError & { code: string };
      return { name, code, message };
    }
    return {};
  };

  it('anything but an object with get, set and delete functions (lock optional) → ERR_INVALID_ARG_TYPE', () => {
    const ok = { get: async () => null, set: async () => {}, delete: async () => {} };
    for (const bad of [null, 'redis://x', 5, {}, { ...ok, get: 'x' }, { ...ok, delete: undefined }, { ...ok, lock: 'yes' }, [ok.get, ok.set, ok.delete]]) {
      expect(thrown(bad)).toEqual(type('"options.store" must be a DPoPStore'));
    }
    expect(thrown(ok)).toEqual({});
    expect(thrown({ ...ok, lock: async () => null })).toEqual({});
    expect(thrown(memoryStore())).toEqual({});
    expect(thrown(undefined)).toEqual({});
  });
});
