// The refresh-token source (src/grants/refresh-token.ts) against an in-process fake token
// endpoint passed as `fetch`, with a memory store as createDPoPFetch's `store` gives it: which
// refresh token each request sends, what the store keeps and when it is written, and when the
// application hears of a new one. Rotation and reuse detection by oidc-provider are in
// grants.peers.test.ts and refresh-store.peers.test.ts.
import { describe, expect, it } from 'vitest';
import { generateKeyPair, refreshToken, type DPoPStore, type TokenContext } from '../../src/index.ts';
import { memoryStore } from '../../src/store/index.ts';
import { createClock } from '../../src/clock.ts';
import { createNonceCache } from '../../src/nonce.ts';
import { caught, recordingFetch } from '../helpers.ts';

const keyPair = await generateKeyPair();
const ENDPOINT = 'https://as.example/token';
const KEY = 'entry';

/** A token endpoint that answers each refresh with `refresh_token: next(n)` (left out when undefined). */
function server(next: (n: number) => string | undefined = () => undefined) {
  return recordingFetch((_, n) => Response.json({ access_token: `at-${n}`, token_type: 'DPoP', expires_in: 60, refresh_token: next(n) }));
}
/** The refresh token each request sent. */
const sent = async (seen: Request[]) => Promise.all(seen.map(async (r) => new URLSearchParams(await r.clone().text()).get('refresh_token')));

/** A memory store that counts its writes. */
function countingStore() {
  const store = memoryStore();
  const writes: string[] = [];
  const counting: DPoPStore = { get: (key) => store.get(key), delete: (key) => store.delete(key), set: (key, value, ttl) => (writes.push(value), store.set(key, value, ttl)) };
  return { store: counting, writes };
}

function contextFor(fetch: typeof globalThis.fetch, store?: DPoPStore): TokenContext {
  return { keyPair, fetch, nonces: createNonceCache(), clock: createClock(), requireDPoP: true, shared: store && { store, key: KEY, locked: true } };
}

describe('rotation', () => {
  it('an answer without refresh_token → the same one is sent next time, and the application hears nothing', async () => {
    const as = server();
    const heard: string[] = [];
    const tokens = refreshToken({ tokenEndpoint: ENDPOINT, clientId: 'spa', refreshToken: 'rt-0', onRefreshToken: (rt) => void heard.push(rt) });
    const context = contextFor(as.fetch);
    await tokens.getToken(context);
    await tokens.getToken(context);
    expect(await sent(as.seen)).toEqual(['rt-0', 'rt-0']);
    expect(heard).toEqual([]);
  });

  it('an answer repeating the refresh token → not a rotation: the application hears nothing, the store is not written again', async () => {
    const as = server(() => 'rt-0');
    const { store, writes } = countingStore();
    const heard: string[] = [];
    const tokens = refreshToken({ tokenEndpoint: ENDPOINT, clientId: 'spa', refreshToken: 'rt-0', onRefreshToken: (rt) => void heard.push(rt) });
    const context = contextFor(as.fetch, store);
    await tokens.getToken(context);
    await tokens.getToken(context);
    expect(await sent(as.seen)).toEqual(['rt-0', 'rt-0']);
    expect(heard).toEqual([]);
    // Written once, when the store did not have it yet; the second refresh read it back from there.
    expect(writes.map((w) => JSON.parse(w))).toEqual([{ v: 1, rt: 'rt-0', at: 0 }]);
  });

  it('a rotation → the next request sends the new one, and the application hears it once', async () => {
    const as = server((n) => `rt-${n}`);
    const heard: string[] = [];
    const tokens = refreshToken({ tokenEndpoint: ENDPOINT, clientId: 'spa', refreshToken: 'rt-0', onRefreshToken: (rt) => void heard.push(rt) });
    await tokens.getToken(contextFor(as.fetch));
    await tokens.getToken(contextFor(as.fetch));
    expect(await sent(as.seen)).toEqual(['rt-0', 'rt-1']);
    expect(heard).toEqual(['rt-1', 'rt-2']);
  });
});

describe('what the store keeps', () => {
  const keeping = async (entry: unknown) => {
    const store = memoryStore();
    await store.set(`${KEY} refresh`, JSON.stringify(entry), 60);
    const as = server();
    await refreshToken({ tokenEndpoint: ENDPOINT, clientId: 'spa', refreshToken: 'given' }).getToken(contextFor(as.fetch, store));
    return (await sent(as.seen))[0];
  };

  it('an entry received at 0 (a given token another instance wrote back) → wins over the one given here', async () => {
    expect(await keeping({ v: 1, rt: 'stored', at: 0 })).toBe('stored');
  });

  it('an entry of another version, a refresh token that is not a string, or a time that is not a number → ignored: the one given is sent', async () => {
    const later = Date.now() + 60_000;
    for (const entry of [{ v: 2, rt: 'stored', at: later }, { v: 1, rt: 12345, at: later }, { v: 1, rt: ['stored'], at: later }, { v: 1, rt: 'stored', at: String(later) }]) {
      expect(await keeping(entry), JSON.stringify(entry)).toBe('given');
    }
  });
});

describe('a store that fails', () => {
  it('its write rejects → the new token is still returned, the application still hears the rotation, and the next refresh sends it', async () => {
    const as = server((n) => `rt-${n}`);
    const store = memoryStore();
    const failing: DPoPStore = { get: (key) => store.get(key), delete: (key) => store.delete(key), set: async () => Promise.reject(new Error('store down')) };
    const heard: string[] = [];
    const tokens = refreshToken({ tokenEndpoint: ENDPOINT, clientId: 'spa', refreshToken: 'rt-0', onRefreshToken: (rt) => void heard.push(rt) });
    expect((await tokens.getToken(contextFor(as.fetch, failing))).accessToken).toBe('at-1');
    await tokens.getToken(contextFor(as.fetch, failing));
    expect(heard).toEqual(['rt-1', 'rt-2']);
    expect(await sent(as.seen)).toEqual(['rt-0', 'rt-1']);
  });
});

describe('no refresh token', () => {
  it('none given and no store → ERR_LOGIN_REQUIRED saying only that none was given', async () => {
    const as = server();
    const err = await caught(() => refreshToken({ tokenEndpoint: ENDPOINT, clientId: 'spa' }).getToken(contextFor(as.fetch)));
    expect(err).toMatchObject({ code: 'ERR_LOGIN_REQUIRED' });
    expect(err.message).toBe('There is no refresh token to renew the access token with: none was given (options.refreshToken). Sign the user in (authorizationCode.start).');
    expect(as.seen).toEqual([]);
  });

  it('options that are not an object → TypeError naming "options"', () => {
    for (const options of [undefined, 42, 'rt']) {
      expect(() => refreshToken(options as never)).toThrow(expect.objectContaining({ name: 'TypeError', message: '"options" must be an object' }));
    }
  });
});
