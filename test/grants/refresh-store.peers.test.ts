// The refresh token kept in the shared store (src/grants/refresh-token.ts, issue 16), against
// oidc-provider rotating refresh tokens with reuse detection (a refresh token that comes back
// revokes the whole grant) and the oauth4webapi resource server. Several createDPoPFetch
// instances in this process share one memoryStore as tabs share IndexedDB; what the servers saw
// comes from their own wire log. The same in Chromium with indexedDbStore: e2e/browser/tabs.spec.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPeers, type Exchange, type Peers } from '../../e2e/peers.mjs';
import { authorizationCode, createDPoPFetch, DPoPError, generateKeyPair, refreshToken, type DPoPEvent, type DPoPFetch, type DPoPStore, type TokenContext } from '../../src/index.ts';
import { memoryStore } from '../../src/store/index.ts';
import { createClock } from '../../src/clock.ts';
import { createNonceCache } from '../../src/nonce.ts';
import { caught } from '../helpers.ts';
import { UserAgent } from '../support/user-agent.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let peers: Peers;
const wire: Exchange[] = [];

beforeAll(async () => {
  peers = await startPeers({
    authorizationCode: {},
    accessTokenTTL: 2,
    clients: [{ client_id: 'spa', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [REDIRECT], scope: 'api', dpop_bound_access_tokens: true }],
    onExchange: (e) => wire.push(e),
  });
});
afterAll(() => peers?.close());

/** Token requests and API requests from now on, as the servers saw them. */
function log() {
  const from = wire.length;
  const since = () => wire.slice(from);
  return {
    token: () =>
      since()
        .filter((e) => e.server === 'as' && e.url === peers.tokenEndpoint && e.method === 'POST')
        .map((e) => ({ form: Object.fromEntries(new URLSearchParams(e.requestBody)), status: e.status, body: JSON.parse(e.responseBody) })),
    api: () => since().filter((e) => e.server === 'rs'),
  };
}

/** Signs a user in: the code, ready to exchange with the key it is bound to. */
async function signIn(keyPair: CryptoKeyPair) {
  const request = await authorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, scope: 'api', keyPair });
  const code = authorizationCode.parseCallback(await new UserAgent().navigate(request.url, REDIRECT), { state: request.state });
  return { code, codeVerifier: request.codeVerifier };
}

const client = { tokenEndpoint: '', clientId: 'spa' };
beforeAll(() => void (client.tokenEndpoint = peers.tokenEndpoint));

/** A refresh token of a new grant: signed in, exchanged once. */
async function grant(keyPair: CryptoKeyPair): Promise<string> {
  const got: string[] = [];
  const context: TokenContext = { keyPair, fetch: (i, init) => fetch(i, init), nonces: createNonceCache(), clock: createClock(), requireDPoP: true };
  await authorizationCode({ ...client, redirectUri: REDIRECT, ...(await signIn(keyPair)), onRefreshToken: (rt) => void got.push(rt) }).getToken(context);
  return got[0]!;
}

async function status(api: DPoPFetch): Promise<number | string> {
  try {
    const res = await api(peers.apiUrl);
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    return (err as DPoPError).code ?? String(err);
  }
}

/** Each instance calls the API every 40 ms for `ms`; every outcome. */
async function callFor(ms: number, apis: DPoPFetch[]): Promise<Array<number | string>> {
  const outcomes: Array<number | string> = [];
  const until = performance.now() + ms;
  await Promise.all(
    apis.map(async (api) => {
      while (performance.now() < until) {
        outcomes.push(await status(api));
        await sleep(40);
      }
    }),
  );
  return outcomes;
}

/** The access token each API request that succeeded carried. */
const tokensUsed = (api: Exchange[]) => api.filter((e) => e.status === 200).map((e) => String(e.requestHeaders.authorization ?? '').replace(/^DPoP /, ''));

describe("oidc-provider's reuse detection (the control: what the store must prevent)", () => {
  it('a rotated refresh token that comes back is refused, and the whole grant with it: the newest refresh token dies too', async () => {
    const keyPair = await generateKeyPair();
    const context: TokenContext = { keyPair, fetch: (i, init) => fetch(i, init), nonces: createNonceCache(), clock: createClock(), requireDPoP: true };
    /** A grant's first refresh token, and the one its first refresh rotated it to. */
    const rotate = async () => {
      const first = await grant(keyPair);
      const rotated: string[] = [];
      await refreshToken({ ...client, refreshToken: first, onRefreshToken: (rt) => void rotated.push(rt) }).getToken(context);
      return [first, rotated[0]!] as const;
    };
    const [first, newest] = await rotate();
    expect(await caught(() => refreshToken({ ...client, refreshToken: first }).getToken(context))).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_grant' });
    expect(await caught(() => refreshToken({ ...client, refreshToken: newest }).getToken(context))).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_grant' });
    // The same steps without the reuse: the newest one works.
    const [, untouched] = await rotate();
    expect((await refreshToken({ ...client, refreshToken: untouched }).getToken(context)).tokenType).toBe('DPoP');
  });

  it('two instances without a store, one refresh token between them: the second refresh reuses it, and the grant is revoked', async () => {
    const keyPair = await generateKeyPair();
    const rt = await grant(keyPair);
    const seen = log();
    const apis = [0, 1].map(() => createDPoPFetch({ keyPair, tokens: refreshToken({ ...client, refreshToken: rt }) }));
    const outcomes = await callFor(2500, apis);
    expect(outcomes).toContain('ERR_OAUTH');
    expect(seen.token().some((x) => x.body.error === 'invalid_grant')).toBe(true);
  });
});

describe('the refresh token in a shared store (the session named)', () => {
  it('two instances, 2-second tokens, ≥ 10 renewals: one refresh per renewal, each refresh token used once, in order; every request 200', async () => {
    const keyPair = await generateKeyPair();
    const store = memoryStore();
    const events: DPoPEvent[][] = [[], []];
    const rotations: string[][] = [[], []];
    const seen = log();
    const signedIn = createDPoPFetch({ keyPair, store, onEvent: (e) => events[0]!.push(e), tokens: authorizationCode({ ...client, redirectUri: REDIRECT, ...(await signIn(keyPair)), session: 'alice', onRefreshToken: (rt) => void rotations[0]!.push(rt) }) });
    expect(await status(signedIn)).toBe(200);
    // Another instance (a tab opened later) starts from the store alone.
    const resumed = createDPoPFetch({ keyPair, store, onEvent: (e) => events[1]!.push(e), tokens: refreshToken({ ...client, session: 'alice', onRefreshToken: (rt) => void rotations[1]!.push(rt) }) });
    const outcomes = await callFor(7000, [signedIn, resumed]);
    expect(outcomes.filter((s) => s !== 200)).toEqual([]);

    const granted = seen.token().filter((x) => x.status === 200);
    const refreshes = granted.filter((x) => x.form.grant_type === 'refresh_token');
    expect(refreshes.length).toBeGreaterThanOrEqual(10);
    expect(seen.token().filter((x) => x.status !== 200).map((x) => x.body.error)).toEqual(seen.token().filter((x) => x.status !== 200).map(() => 'use_dpop_nonce'));
    // A chain: each refresh sends the refresh token the one before it received, never one twice.
    for (const [i, x] of refreshes.entries()) expect(x.form.refresh_token).toBe(granted[i]!.body.refresh_token);
    expect(new Set(refreshes.map((x) => x.form.refresh_token)).size).toBe(refreshes.length);
    // One refresh per renewal: every access token issued was used (but the last, when the run
    // ended before it was), and only those.
    const used = new Set(tokensUsed(seen.api()));
    const issued = granted.map((x) => x.body.access_token as string);
    expect(issued.slice(0, -1).filter((t) => !used.has(t))).toEqual([]);
    expect([...used].filter((t) => !issued.includes(t))).toEqual([]);
    // Both took turns at refreshing, each told of its own rotations only, once each.
    expect(rotations[0]!.length).toBeGreaterThan(0);
    expect(rotations[1]!.length).toBeGreaterThan(0);
    expect([...rotations[0]!, ...rotations[1]!].sort()).toEqual(granted.map((x) => x.body.refresh_token).sort());
    expect(events.flat().filter((e) => e.type === 'store-error')).toEqual([]);
  });

  it('a new instance with no refresh token resumes from the store; another session, or none stored, is ERR_LOGIN_REQUIRED without a token request', async () => {
    const keyPair = await generateKeyPair();
    const store = memoryStore();
    await status(createDPoPFetch({ keyPair, store, tokens: refreshToken({ ...client, refreshToken: await grant(keyPair), session: 's1' }) }));
    await sleep(2100); // the access token has expired: the next instance must refresh
    const seen = log();
    expect(await status(createDPoPFetch({ keyPair, store, tokens: refreshToken({ ...client, session: 's1' }) }))).toBe(200);
    expect(seen.token().filter((x) => x.status === 200).map((x) => x.form.grant_type)).toEqual(['refresh_token']);

    const other = log();
    const failure = await caught(() => createDPoPFetch({ keyPair, store, tokens: refreshToken({ ...client, session: 's2' }) })(peers.apiUrl));
    expect(failure).toBeInstanceOf(DPoPError);
    expect(failure).toMatchObject({ code: 'ERR_LOGIN_REQUIRED' });
    expect(failure.message).toMatch(/no refresh token .* store keeps none .* Sign the user in/);
    expect(other.token()).toEqual([]);
    expect(other.api()).toEqual([]);
    // Without a store, the same: nothing to refresh with.
    expect(await caught(() => createDPoPFetch({ keyPair, tokens: refreshToken(client) })(peers.apiUrl))).toMatchObject({ code: 'ERR_LOGIN_REQUIRED' });
  });
});

describe("one user's tokens never reach another (one DPoP key for many users, one store)", () => {
  it('without a session named, through a store of many users: not shared (each user its own refresh and token), and a store-error says why', async () => {
    const keyPair = await generateKeyPair(); // the server's one key
    const store = memoryStore();
    const [alice, bob] = [await grant(keyPair), await grant(keyPair)];
    const events: DPoPEvent[] = [];
    const seen = log();
    const apiOf = (rt: string) => createDPoPFetch({ keyPair, store, onEvent: (e) => events.push(e), tokens: refreshToken({ ...client, refreshToken: rt }) });
    const [forAlice, forBob] = [apiOf(alice), apiOf(bob)];
    expect(await status(forAlice)).toBe(200);
    expect(await status(forBob)).toBe(200);
    const refreshes = seen.token().filter((x) => x.status === 200);
    expect(refreshes.map((x) => x.form.refresh_token)).toEqual([alice, bob]);
    // Bob's request carried the token issued for Bob's refresh token, not Alice's.
    expect(tokensUsed(seen.api())).toEqual(refreshes.map((x) => x.body.access_token));
    expect(events.filter((e) => e.type === 'store-error')).toEqual([
      expect.objectContaining({ operation: 'set', reason: 'refused', detail: expect.stringContaining('name the session') }),
      expect.objectContaining({ operation: 'set', reason: 'refused' }),
    ]);
  });

  it('with each session named: shared within a session, never across', async () => {
    const keyPair = await generateKeyPair();
    const store = memoryStore();
    const [alice, bob] = [await grant(keyPair), await grant(keyPair)];
    const seen = log();
    const apiOf = (session: string, rt?: string) => createDPoPFetch({ keyPair, store, tokens: refreshToken({ ...client, session, refreshToken: rt }) });
    const apis = [apiOf('alice', alice), apiOf('bob', bob), apiOf('alice'), apiOf('bob')];
    for (const api of apis) expect(await status(api)).toBe(200);
    const refreshes = seen.token().filter((x) => x.status === 200);
    expect(refreshes.map((x) => x.form.refresh_token)).toEqual([alice, bob]); // the second of each session took the first's token
    const [aliceToken, bobToken] = refreshes.map((x) => x.body.access_token);
    expect(tokensUsed(seen.api())).toEqual([aliceToken, bobToken, aliceToken, bobToken]);
  });
});

describe('which refresh token a source uses (read under the lock, written before it is let go)', () => {
  const contextWith = (keyPair: CryptoKeyPair, store: DPoPStore): TokenContext => ({ keyPair, fetch: (i, init) => fetch(i, init), nonces: createNonceCache(), clock: createClock(), requireDPoP: true, shared: { store, key: 't:entry', locked: true } });
  const kept = async (store: DPoPStore) => JSON.parse((await store.get('t:entry refresh'))!) as { v: number; rt: string; at: number };

  it('the stored one wins over the one given; a rotation is written at once, with when it was received', async () => {
    const keyPair = await generateKeyPair();
    const store = memoryStore();
    const rt = await grant(keyPair);
    await store.set('t:entry refresh', JSON.stringify({ v: 1, rt, at: 1 }), 60);
    const told: string[] = [];
    const seen = log();
    const before = Date.now();
    await refreshToken({ ...client, refreshToken: 'an-older-one-given', onRefreshToken: (r) => void told.push(r) }).getToken(contextWith(keyPair, store));
    const [sent] = seen.token().filter((x) => x.status === 200);
    expect(sent!.form.refresh_token).toBe(rt);
    expect(await kept(store)).toEqual({ v: 1, rt: sent!.body.refresh_token, at: expect.any(Number) });
    expect((await kept(store)).at).toBeGreaterThanOrEqual(before);
    expect(told).toEqual([sent!.body.refresh_token]);
  });

  it("its own rotation wins over an older stored one (a write the store missed), so the used one is never sent again", async () => {
    const keyPair = await generateKeyPair();
    const store = memoryStore();
    const source = refreshToken({ ...client, refreshToken: await grant(keyPair) });
    const context = contextWith(keyPair, store);
    await source.getToken(context);
    const { rt: current, at } = await kept(store);
    const seen = log();
    // The store lost the last write: it holds the refresh token just used, from before.
    const used = wire.filter((e) => e.method === 'POST' && e.status === 200).at(-1)!;
    await store.set('t:entry refresh', JSON.stringify({ v: 1, rt: new URLSearchParams(used.requestBody).get('refresh_token'), at: at - 1 }), 60);
    await source.getToken(context);
    const [sent] = seen.token().filter((x) => x.status === 200);
    expect(sent!.form.refresh_token).toBe(current);
    expect(seen.token().filter((x) => x.status !== 200 && x.body.error !== 'use_dpop_nonce')).toEqual([]);
    // Another source that joins later adopts the newest, and tells no one: it did not rotate.
    const told: string[] = [];
    await refreshToken({ ...client, onRefreshToken: (r) => void told.push(r) }).getToken(context);
    expect(seen.token().filter((x) => x.status === 200).map((x) => x.form.refresh_token)).toEqual([current, sent!.body.refresh_token]);
    expect(told).toHaveLength(1); // its own rotation only
  });

  it('a stored entry it cannot use (not JSON, another shape, a refresh token with a control character) is passed over', async () => {
    const keyPair = await generateKeyPair();
    for (const garbage of ['not json', '{"v":2,"rt":"x","at":1}', JSON.stringify({ v: 1, rt: 'a\nb', at: 9e15 }), 'null']) {
      const store = memoryStore();
      const rt = await grant(keyPair);
      await store.set('t:entry refresh', garbage, 60);
      const seen = log();
      await refreshToken({ ...client, refreshToken: rt }).getToken(contextWith(keyPair, store));
      expect(seen.token().filter((x) => x.status === 200).map((x) => x.form.refresh_token)).toEqual([rt]);
    }
  });
});
