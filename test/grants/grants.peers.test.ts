// The grants a single-page app and a service use, against oidc-provider (auth code + PKCE +
// dpop_jkt, DPoP-bound rotating refresh tokens, private_key_jwt) and the oauth4webapi resource
// server. What the servers saw is read from their own wire log (onExchange), not from our code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { createHash } from 'node:crypto';
import { startPeers, type Exchange, type Peers } from '../../e2e/peers.mjs';
import {
  authorizationCode,
  calculateThumbprint,
  clientCredentials,
  createDPoPFetch,
  generateKeyPair,
  OAuthError,
  refreshToken,
  type DPoPEvent,
  type TokenContext,
} from '../../src/index.ts';
import { createClock } from '../../src/clock.ts';
import { createNonceCache } from '../../src/nonce.ts';
import { caught } from '../helpers.ts';
import { UserAgent } from '../support/user-agent.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const TEN_MINUTES = 10 * 60_000;

let peers: Peers;
const exchanges: Exchange[] = [];
let assertionKeys: CryptoKeyPair;

function spaClient(clientId: string, grantTypes = ['authorization_code', 'refresh_token']) {
  return { client_id: clientId, token_endpoint_auth_method: 'none', grant_types: grantTypes, response_types: ['code'], redirect_uris: [REDIRECT], scope: 'api', dpop_bound_access_tokens: true };
}
async function keyClient(clientId: string, keys: CryptoKeyPair) {
  const jwk = { ...(await crypto.subtle.exportKey('jwk', keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  return { client_id: clientId, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [jwk] }, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'api' };
}

beforeAll(async () => {
  assertionKeys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  peers = await startPeers({
    authorizationCode: {},
    clients: [spaClient('spa'), spaClient('spa.no-refresh', ['authorization_code']), await keyClient('service.pkjwt', assertionKeys), await keyClient('service.fapi2', assertionKeys)],
    fapi2Clients: ['service.fapi2'],
    onExchange: (e) => exchanges.push(e),
  });
});
afterAll(() => peers?.close());

/** Token-endpoint exchanges from now on: their form fields and answers. */
function tokenLog() {
  const from = exchanges.length;
  return () =>
    exchanges
      .slice(from)
      .filter((e) => e.server === 'as' && e.url === peers.tokenEndpoint && e.method === 'POST')
      .map((e) => ({ form: Object.fromEntries(new URLSearchParams(e.requestBody)), status: e.status, body: JSON.parse(e.responseBody), headers: e.responseHeaders }));
}
function rsLog() {
  const from = exchanges.length;
  return () => exchanges.slice(from).filter((e) => e.server === 'rs' && e.method !== 'OPTIONS');
}
const claimsOf = (body: Array<{ type: string; value: string }>) => Object.fromEntries(body.map((c) => [c.type, c.value]));

/** Runs the browser part of a login and returns the callback URL with the code. */
async function login(keyPair: CryptoKeyPair, clientId = 'spa', params?: Record<string, string>) {
  const request = await authorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, clientId, redirectUri: REDIRECT, scope: 'api', keyPair, params });
  const callback = await new UserAgent().navigate(request.url, REDIRECT);
  return { ...request, callback };
}

/** A TokenContext as createDPoPFetch builds it, to drive a token source step by step. */
function contextFor(keyPair: CryptoKeyPair, now?: () => number): TokenContext {
  return { keyPair, fetch: (input, init) => fetch(input, init), nonces: createNonceCache(), clock: createClock(now), requireDPoP: true };
}

describe('authorizationCode.start', () => {
  it('builds an authorization URL with PKCE S256, a random state and dpop_jkt', async () => {
    const keyPair = await generateKeyPair();
    const a = await authorizationCode.start({ authorizationEndpoint: `${peers.authorizationEndpoint}?tenant=x`, clientId: 'spa', redirectUri: REDIRECT, scope: ['api', 'openid'], keyPair, params: { prompt: 'login', state: 'mine', code_challenge: 'forged' } });
    const b = await authorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, keyPair });
    const q = new URL(a.url).searchParams;
    expect(Object.fromEntries(q)).toEqual({
      tenant: 'x',
      prompt: 'login',
      response_type: 'code',
      client_id: 'spa',
      redirect_uri: REDIRECT,
      scope: 'api openid',
      state: a.state,
      code_challenge: createHash('sha256').update(a.codeVerifier).digest('base64url'),
      code_challenge_method: 'S256',
      dpop_jkt: await jose.calculateJwkThumbprint((await crypto.subtle.exportKey('jwk', keyPair.publicKey)) as jose.JWK),
    });
    expect(a.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.state).not.toBe(b.state);
    expect(a.codeVerifier).not.toBe(b.codeVerifier);
    expect(new URL(b.url).searchParams.has('scope')).toBe(false);
  });

  it('checks its arguments', async () => {
    const keyPair = await generateKeyPair();
    const base = { authorizationEndpoint: peers.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, keyPair };
    await expect(authorizationCode.start({ ...base, authorizationEndpoint: 'http://as.example/auth' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.authorizationEndpoint" must be an https: URL') });
    await expect(authorizationCode.start({ ...base, redirectUri: 'callback' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.redirectUri" must be an absolute URL' });
    await expect(authorizationCode.start({ ...base, keyPair: {} as CryptoKeyPair })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.keyPair" must be a CryptoKeyPair' });
    await expect(authorizationCode.start({ ...base, clientId: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });
});

describe('authorization code with PKCE and dpop_jkt, then DPoP-bound refresh tokens', () => {
  it('logs in, exchanges the code with a DPoP proof (nonce retry), and calls the API with a token bound to the key', async () => {
    const keyPair = await generateKeyPair();
    const { callback, state, codeVerifier } = await login(keyPair);
    const code = authorizationCode.parseCallback(callback, { state, issuer: peers.issuer });
    const stored: string[] = [];
    const log = tokenLog();
    const api = createDPoPFetch({
      keyPair,
      requireDPoP: true,
      tokens: authorizationCode({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', redirectUri: REDIRECT, code, codeVerifier, onRefreshToken: (rt) => void stored.push(rt) }),
    });
    const res = await api(peers.apiUrl);
    expect(res.status).toBe(200);
    const claims = claimsOf(await res.json());
    expect(JSON.parse(claims.cnf!)).toEqual({ jkt: await calculateThumbprint(keyPair) });
    expect(claims).toMatchObject({ sub: 'alice', client_id: 'spa', scope: 'api' });
    const seen = log();
    expect(seen.map((x) => [x.status, x.body.error])).toEqual([[400, 'use_dpop_nonce'], [200, undefined]]);
    expect(seen[1]!.form).toEqual({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: codeVerifier, client_id: 'spa' });
    expect(stored).toEqual([seen[1]!.body.refresh_token]);
  });

  it('renews through the refresh token after the code, rotating it and handing each new one to the app', async () => {
    const keyPair = await generateKeyPair();
    const { callback, state, codeVerifier } = await login(keyPair);
    const stored: string[] = [];
    const tokens = authorizationCode({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', redirectUri: REDIRECT, code: authorizationCode.parseCallback(callback, { state }), codeVerifier, onRefreshToken: (rt) => void stored.push(rt) });
    const context = contextFor(keyPair);
    const log = tokenLog();
    const first = await tokens.getToken(context);
    const second = await tokens.getToken(context);
    const third = await tokens.getToken(context);
    const grants = log().filter((x) => x.status === 200);
    expect(grants.map((x) => x.form.grant_type)).toEqual(['authorization_code', 'refresh_token', 'refresh_token']);
    // Each refresh used the newest refresh token, and the app was told of each one.
    expect(grants[1]!.form.refresh_token).toBe(grants[0]!.body.refresh_token);
    expect(grants[2]!.form.refresh_token).toBe(grants[1]!.body.refresh_token);
    expect(stored).toEqual(grants.map((x) => x.body.refresh_token));
    expect(new Set(stored).size).toBe(3);
    for (const token of [first, second, third]) {
      expect(token.refreshToken).toBeUndefined(); // the refresh token stays inside the source
      expect(jose.decodeJwt(token.accessToken).cnf).toEqual({ jkt: await calculateThumbprint(keyPair) });
    }
    // oidc-provider really rotated: the first refresh token is dead, and using it again is refused.
    const replay = await caught(() => refreshToken({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', refreshToken: stored[0]! }).getToken(contextFor(keyPair)));
    expect(replay).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_grant', status: 400 });
    expect(JSON.stringify({ ...replay, message: replay.message })).not.toContain(stored[0]);
  });

  it('a reloaded app resumes with the stored refresh token and the same key; another key is refused', async () => {
    const keyPair = await generateKeyPair();
    const { callback, state, codeVerifier } = await login(keyPair);
    let saved = '';
    const persist = (rt: string) => void (saved = rt);
    await createDPoPFetch({ keyPair, tokens: authorizationCode({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', redirectUri: REDIRECT, code: authorizationCode.parseCallback(callback, { state }), codeVerifier, onRefreshToken: persist }) })(peers.apiUrl);
    const afterLogin = saved;

    // The refresh token is bound to the key (RFC 9449 §5): a page with a new key cannot use it.
    const stranger = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: refreshToken({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', refreshToken: saved, onRefreshToken: persist }) });
    expect(await caught(() => stranger(peers.apiUrl))).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_grant' });
    expect(saved).toBe(afterLogin);

    // "Reload": a new fetch, the same key (as IndexedDB gives it back), the stored refresh token.
    const resumed = createDPoPFetch({ keyPair, tokens: refreshToken({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', refreshToken: saved, onRefreshToken: persist }) });
    const res = await resumed(peers.apiUrl);
    expect(res.status).toBe(200);
    expect(JSON.parse(claimsOf(await res.json()).cnf!)).toEqual({ jkt: await calculateThumbprint(keyPair) });
    expect(saved).not.toBe(afterLogin); // rotated, and persisted for the next reload
  });

  it('refreshes once for many concurrent requests, even across two fetches sharing one source', async () => {
    const keyPair = await generateKeyPair();
    const { callback, state, codeVerifier } = await login(keyPair);
    let saved = '';
    await authorizationCode({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', redirectUri: REDIRECT, code: authorizationCode.parseCallback(callback, { state }), codeVerifier, onRefreshToken: (rt) => void (saved = rt) }).getToken(contextFor(keyPair));
    const calls: string[] = [];
    const source = refreshToken({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', refreshToken: saved, onRefreshToken: (rt) => void calls.push(rt) });
    const a = createDPoPFetch({ keyPair, tokens: source });
    const b = createDPoPFetch({ keyPair, tokens: source });
    const log = tokenLog();
    const results = await Promise.all([...Array.from({ length: 10 }, () => a(peers.apiUrl)), ...Array.from({ length: 10 }, () => b(peers.apiUrl))]);
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    await Promise.all(results.map((r) => r.body?.cancel()));
    const refreshes = log().filter((x) => x.form.grant_type === 'refresh_token');
    // One refresh (plus its nonce retry); a second use of the same refresh token would have
    // revoked the whole grant.
    expect(refreshes.map((x) => x.status)).toEqual([400, 200]);
    expect(calls).toHaveLength(1);
  });

  it('does not call onRefreshToken when the server keeps the refresh token', async () => {
    const keeping = await startPeers({ authorizationCode: { rotateRefreshTokens: false }, clients: [spaClient('spa')] });
    try {
      const keyPair = await generateKeyPair();
      const start = await authorizationCode.start({ authorizationEndpoint: keeping.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, scope: 'api', keyPair });
      const callback = await new UserAgent().navigate(start.url, REDIRECT);
      const stored: string[] = [];
      const tokens = authorizationCode({ tokenEndpoint: keeping.tokenEndpoint, clientId: 'spa', redirectUri: REDIRECT, code: authorizationCode.parseCallback(callback, { state: start.state }), codeVerifier: start.codeVerifier, onRefreshToken: (rt) => void stored.push(rt) });
      const context = contextFor(keyPair);
      const first = await tokens.getToken(context);
      const second = await tokens.getToken(context);
      expect(second.accessToken).not.toBe(first.accessToken); // a refresh did happen
      expect(stored).toHaveLength(1); // only the refresh token the code brought
    } finally {
      await keeping.close();
    }
  });

  it('refuses a code exchanged with a key other than the one named by dpop_jkt, or with the wrong verifier', async () => {
    const keyPair = await generateKeyPair();
    const other = await login(keyPair);
    const source = (code: string, codeVerifier: string) => authorizationCode({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', redirectUri: REDIRECT, code, codeVerifier });
    const code = authorizationCode.parseCallback(other.callback, { state: other.state });
    // The code was bound to keyPair's thumbprint before it existed: another key cannot redeem it.
    const stranger = await generateKeyPair();
    expect(await caught(() => source(code, other.codeVerifier).getToken(contextFor(stranger)))).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_grant' });

    const pkce = await login(keyPair);
    const wrong = (await authorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, keyPair })).codeVerifier;
    expect(await caught(() => source(authorizationCode.parseCallback(pkce.callback, { state: pkce.state }), wrong).getToken(contextFor(keyPair)))).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_grant' });

    // Positive control: the right key and verifier redeem a fresh code.
    const good = await login(keyPair);
    const token = await source(authorizationCode.parseCallback(good.callback, { state: good.state }), good.codeVerifier).getToken(contextFor(keyPair));
    expect(token.tokenType).toBe('DPoP');
  });

  it('uses the code once; without a refresh token, a renewal says to log in again', async () => {
    const keyPair = await generateKeyPair();
    const { callback, state, codeVerifier } = await login(keyPair, 'spa.no-refresh');
    const code = authorizationCode.parseCallback(callback, { state });
    const tokens = authorizationCode({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa.no-refresh', redirectUri: REDIRECT, code, codeVerifier });
    const context = contextFor(keyPair);
    const log = tokenLog();
    await tokens.getToken(context);
    const again = await caught(() => tokens.getToken(context));
    expect(again).toMatchObject({ code: 'ERR_TOKEN_RESPONSE' });
    expect(again.message).toMatch(/authorization code was already used and the token endpoint issued no refresh token.*Start the login again/);
    expect(again.message).not.toContain(code);
    expect(log().filter((x) => x.status === 200)).toHaveLength(1); // the code was not sent again
    // The server agrees the code is spent: another source with the same code is refused.
    const replay = await caught(() => authorizationCode({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa.no-refresh', redirectUri: REDIRECT, code, codeVerifier }).getToken(contextFor(keyPair)));
    expect(replay).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_grant' });
    expect(JSON.stringify({ ...replay, message: replay.message, stack: replay.stack })).not.toContain(code);
  });
});

describe('authorizationCode.parseCallback', () => {
  it('returns the code when state (and iss, when asked) match', async () => {
    const { callback, state } = await login(await generateKeyPair());
    expect(new URL(callback).searchParams.get('iss')).toBe(peers.issuer); // RFC 9207, from the server
    expect(authorizationCode.parseCallback(callback, { state })).toBe(new URL(callback).searchParams.get('code'));
    expect(authorizationCode.parseCallback(new URL(callback), { state, issuer: peers.issuer })).toBe(new URL(callback).searchParams.get('code'));
  });

  it('refuses another login\'s state, another issuer, and a URL with neither code nor error', async () => {
    const { callback, state } = await login(await generateKeyPair());
    expect(() => authorizationCode.parseCallback(callback, { state: `${state}x` })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('does not carry the state of the login this page started') }));
    expect(() => authorizationCode.parseCallback(callback, { state, issuer: `${peers.issuer}/` })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('RFC 9207') }));
    expect(() => authorizationCode.parseCallback(`${REDIRECT}?state=${state}`, { state })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('neither "code" nor "error"') }));
    expect(() => authorizationCode.parseCallback('/callback?code=x', { state })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: '"url" must be an absolute URL' }));
    expect(() => authorizationCode.parseCallback(callback, {} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.state" must be a string' }));
  });

  it('refuses a callback that carries state, code or iss twice (RFC 6749 §3.1), whichever comes first', async () => {
    const { callback, state } = await login(await generateKeyPair());
    const iss = new URL(callback).searchParams.get('iss')!;
    for (const [name, extra] of [['state', state], ['state', 'B'], ['code', 'forged'], ['iss', 'https://evil.example'], ['iss', iss]]) {
      const url = new URL(callback);
      url.searchParams.append(name!, extra!);
      expect(() => authorizationCode.parseCallback(url, { state }), `${name}=${extra}`).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining(`carries "${name}" more than once`) }));
      // The repeat first: the same holds for a forged value placed before the real one.
      const before = new URL(`${REDIRECT}?${name}=${encodeURIComponent(extra!)}&${new URL(callback).search.slice(1)}`);
      expect(() => authorizationCode.parseCallback(before, { state })).toThrow(expect.objectContaining({ message: expect.stringContaining('more than once') }));
    }
  });

  it('start({ issuer }) returns the issuer with the login, and parseCallback given that object checks iss against it', async () => {
    const keyPair = await generateKeyPair();
    const request = await authorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, scope: 'api', keyPair, issuer: peers.issuer });
    expect(request.issuer).toBe(peers.issuer);
    const saved = JSON.parse(JSON.stringify({ state: request.state, codeVerifier: request.codeVerifier, issuer: request.issuer })); // as an app keeps it
    const callback = await new UserAgent().navigate(request.url, REDIRECT);
    expect(authorizationCode.parseCallback(callback, saved)).toBe(new URL(callback).searchParams.get('code'));
    const mixedUp = new URL(callback);
    mixedUp.searchParams.set('iss', 'https://other-as.example');
    expect(() => authorizationCode.parseCallback(mixedUp, saved)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('RFC 9207') }));
    // Without an issuer, none is returned; a wrong type is refused.
    expect('issuer' in (await authorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, keyPair }))).toBe(false);
    await expect(authorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, keyPair, issuer: 42 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.issuer" must be a string' });
  });

  it('turns an error the server sent back into an OAuthError', async () => {
    // prompt=none with no session: oidc-provider answers login_required through the redirect.
    const { callback, state } = await login(await generateKeyPair(), 'spa', { prompt: 'none' });
    expect(new URL(callback).searchParams.get('error')).toBe('login_required');
    const err = await caught(() => authorizationCode.parseCallback(callback, { state }));
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ code: 'ERR_OAUTH', error: 'login_required', status: 0 });
    expect(err.message).toMatch(/^The authorization server refused the login: login_required/);
    // A forged error for another login is not acted on.
    expect(() => authorizationCode.parseCallback(callback, { state: 'other' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

describe('resource indicators (RFC 8707 §2: an absolute URI without a fragment)', () => {
  const source = (resource: string | string[]) => clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: 'api', resource });

  it('the API\'s own URL → sent, and the token\'s audience is that resource', async () => {
    const token = await source(peers.resource).getToken(contextFor(await generateKeyPair()));
    expect(jose.decodeJwt(token.accessToken).aud).toBe(peers.resource);
  });

  it.for(['urn:example:api', 'api://my-api'])('%s (not http) → accepted and sent: oidc-provider, which knows no such resource, answers invalid_target', async (resource) => {
    const keyPair = await generateKeyPair();
    const err = await caught(() => source(resource).getToken(contextFor(keyPair)));
    expect(err).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_target' });
  });

  it('a fragment (even an empty one), or a relative reference → TypeError ERR_INVALID_ARG_VALUE before any request', () => {
    for (const resource of ['https://api.example/#frag', 'https://api.example/#', 'urn:example:api#x', [peers.resource, 'https://api.example/#frag']]) {
      expect(() => source(resource), String(resource)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.resource" must not have a fragment' }));
    }
    expect(() => source('/api')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.resource" must be an absolute URL' }));
  });
});

describe('private_key_jwt (RFC 7523) client authentication', () => {
  const service = (overrides: Partial<Parameters<typeof clientCredentials>[0]> = {}) =>
    clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: 'service.pkjwt', clientAssertionKey: assertionKeys, clientAssertionKid: 'k1', scope: 'api', ...overrides });
  const assertionOf = (x: { form: Record<string, string> }) => x.form.client_assertion!;
  const verify = (assertion: string) => jose.jwtVerify(assertion, assertionKeys.publicKey, { algorithms: ['ES256'] });

  it('authenticates with a fresh assertion on every attempt: the nonce retry replays none', async () => {
    const log = tokenLog();
    const api = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: service() });
    const res = await api(peers.apiUrl);
    expect(res.status).toBe(200);
    expect(claimsOf(await res.json()).client_id).toBe('service.pkjwt');
    const seen = log();
    expect(seen.map((x) => [x.status, x.body.error])).toEqual([[400, 'use_dpop_nonce'], [200, undefined]]);
    const [first, second] = await Promise.all(seen.map((x) => verify(assertionOf(x))));
    expect(first!.protectedHeader).toEqual({ alg: 'ES256', typ: 'JWT', kid: 'k1' });
    for (const { payload } of [first!, second!]) {
      expect(payload).toMatchObject({ iss: 'service.pkjwt', sub: 'service.pkjwt', aud: peers.tokenEndpoint });
      expect(payload.exp! - payload.iat!).toBe(60);
    }
    expect(first!.payload.jti).not.toBe(second!.payload.jti);
    expect(seen.every((x) => x.form.client_assertion_type === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')).toBe(true);
    expect(seen.every((x) => x.form.client_secret === undefined)).toBe(true);

    // oidc-provider checked the first assertion before the DPoP proof and remembers its jti:
    // sending it again is refused, so a client that replayed it on the retry would have failed.
    const replay = await fetch(peers.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(seen[0]!.form) });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('aud: the token endpoint by default, the issuer when given; oidc-provider compares it exactly', async () => {
    const keyPair = await generateKeyPair();
    const log = tokenLog();
    await service({ issuer: peers.issuer }).getToken(contextFor(keyPair));
    expect((await verify(assertionOf(log().at(-1)!))).payload.aud).toBe(peers.issuer);
    // What `new URL(issuer).href` would make of it: one slash more, and refused.
    const slash = await caught(() => service({ clientAssertionAudience: `${peers.issuer}/` }).getToken(contextFor(keyPair)));
    expect(slash).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_client', status: 401 });
  });

  it('aud under the FAPI 2.0 profile (RFC 7523bis): only the issuer is accepted, so pass issuer', async () => {
    const keyPair = await generateKeyPair();
    const fapi = (overrides = {}) => service({ clientId: 'service.fapi2', ...overrides });
    expect(await caught(() => fapi().getToken(contextFor(keyPair)))).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_client' });
    const token = await fapi({ issuer: peers.issuer }).getToken(contextFor(keyPair));
    expect(jose.decodeJwt(token.accessToken).client_id).toBe('service.fapi2');
  });

  it('a key the server does not know is invalid_client', async () => {
    const stranger = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])) as CryptoKeyPair;
    const err = await caught(() => service({ clientAssertionKey: stranger }).getToken(contextFor(stranger)));
    expect(err).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_client', status: 401 });
  });
});

describe('a client whose clock is 10 minutes off', () => {
  it('both servers send a Date header (Node adds it as the response is written, so the wire log cannot show it)', async () => {
    for (const url of [peers.tokenEndpoint, peers.apiUrl]) {
      const res = await fetch(url, { method: 'POST' });
      await res.body?.cancel();
      expect(Math.abs(Date.parse(res.headers.get('date')!) - Date.now())).toBeLessThan(5_000);
    }
  });

  it('private_key_jwt, clock behind: the expired assertion is refused, the Date corrects the clock, then nonce, then 200', async () => {
    const events: DPoPEvent[] = [];
    const log = tokenLog();
    const api = createDPoPFetch({
      keyPair: await generateKeyPair(),
      now: () => Date.now() - TEN_MINUTES,
      onEvent: (e) => events.push(e),
      tokens: clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: 'service.pkjwt', clientAssertionKey: assertionKeys, scope: 'api' }),
    });
    expect((await api(peers.apiUrl)).status).toBe(200);
    const seen = log();
    // Client authentication comes before the DPoP proof at oidc-provider: the stale assertion
    // is refused first (401, with a Date header but no nonce), so three round trips is the least.
    expect(seen.map((x) => [x.status, x.body.error])).toEqual([[401, 'invalid_client'], [400, 'use_dpop_nonce'], [200, undefined]]);
    expect(seen[0]!.headers['dpop-nonce']).toBeUndefined();
    const jtis = seen.map((x) => jose.decodeJwt(x.form.client_assertion!).jti);
    expect(new Set(jtis).size).toBe(3);
    const iats = seen.map((x) => jose.decodeJwt(x.form.client_assertion!).iat!);
    expect(Math.abs(iats[0]! - Date.now() / 1000 + 600)).toBeLessThan(5); // signed by the wrong clock
    expect(Math.abs(iats[2]! - Date.now() / 1000)).toBeLessThan(5); // then by the corrected one
    // One correction per server: the token endpoint's Date, then the API's (one offset per origin).
    const skews = events.filter((e) => e.type === 'clock-skew') as { offset: number; url: string }[];
    expect(skews.map((e) => e.url)).toEqual([peers.tokenEndpoint, peers.apiUrl]);
    for (const { offset } of skews) expect(Math.abs(offset - TEN_MINUTES)).toBeLessThan(2_000);
  });

  it('private_key_jwt, clock ahead: the server accepts the assertion, two round trips as usual', async () => {
    const log = tokenLog();
    const api = createDPoPFetch({ keyPair: await generateKeyPair(), now: () => Date.now() + TEN_MINUTES, tokens: clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: 'service.pkjwt', clientAssertionKey: assertionKeys, scope: 'api' }) });
    expect((await api(peers.apiUrl)).status).toBe(200);
    expect(log().map((x) => x.status)).toEqual([400, 200]);
  });

  it('SPA, clock behind: oidc-provider answers the stale proof with a nonce, the API then sees corrected proofs', async () => {
    const keyPair = await generateKeyPair();
    const { callback, state, codeVerifier } = await login(keyPair);
    const events: DPoPEvent[] = [];
    const log = tokenLog();
    const rs = rsLog();
    const api = createDPoPFetch({
      keyPair,
      now: () => Date.now() - TEN_MINUTES,
      onEvent: (e) => events.push(e),
      tokens: authorizationCode({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', redirectUri: REDIRECT, code: authorizationCode.parseCallback(callback, { state }), codeVerifier }),
    });
    expect((await api(peers.apiUrl)).status).toBe(200);
    const seen = log();
    // What oidc-provider 9 says to a proof whose iat is 10 minutes old and carries no nonce:
    // 400 use_dpop_nonce with a fresh DPoP-Nonce and a Date. With a nonce it does not judge iat.
    expect(seen.map((x) => [x.status, x.body.error, x.body.error_description])).toEqual([
      [400, 'use_dpop_nonce', 'DPoP proof iat is not recent enough, use a DPoP nonce instead'],
      [200, undefined, undefined],
    ]);
    expect(seen[0]!.headers['dpop-nonce']).toBeDefined();
    // The API is another origin: its clock is learnt from its own Date, not the token
    // endpoint's (one offset per origin). Its first answer, a nonce demand, carries both, so the
    // one retry fixes both: still two round trips.
    const api2 = rs().map((e) => [e.status, jose.decodeJwt(String(e.requestHeaders.dpop)).iat!]);
    expect(api2.map(([status]) => status)).toEqual([401, 200]);
    expect(Math.abs(api2[0]![1]! - Date.now() / 1000 + 600)).toBeLessThan(5);
    expect(Math.abs(api2[1]![1]! - Date.now() / 1000)).toBeLessThan(5);
    expect(events.filter((e) => e.type === 'clock-skew').map((e) => (e as { url: string }).url)).toEqual([peers.tokenEndpoint, peers.apiUrl]);
  });

  it('resource server alone, clock ahead: 401 invalid_dpop_proof for the iat, re-signed once with the corrected clock', async () => {
    const keyPair = await generateKeyPair();
    const token = await clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: 'api' }).getToken(contextFor(keyPair));
    const events: DPoPEvent[] = [];
    const rs = rsLog();
    const api = createDPoPFetch({ keyPair, now: () => Date.now() + TEN_MINUTES, onEvent: (e) => events.push(e) });
    const res = await api(peers.apiUrl, { headers: { authorization: `DPoP ${token.accessToken}` } });
    expect(res.status).toBe(200);
    const seen = rs();
    expect(seen.map((e) => e.status)).toEqual([401, 200]);
    // What the oauth4webapi resource server answers a proof 10 minutes ahead: invalid_dpop_proof,
    // with its nonce and a Date, so the one retry fixes both.
    expect(seen[0]!.responseHeaders['www-authenticate']).toMatch(/^DPoP error="invalid_dpop_proof", error_description="DPoP proof iat not recent enough"/);
    expect(jose.decodeJwt(String(seen[1]!.requestHeaders.dpop)).nonce).toBe(seen[0]!.responseHeaders['dpop-nonce']);
    expect(events.map((e) => e.type)).toEqual(['clock-skew']);
  });

  it('an AS without nonces refuses the stale proof as invalid_dpop_proof; one re-signed retry succeeds', async () => {
    const plain = await startPeers({ asNonce: 'never', rsNonce: 'never', onExchange: (e) => exchanges.push(e) });
    try {
      const run = async (now?: () => number) => {
        const from = exchanges.length;
        const api = createDPoPFetch({ keyPair: await generateKeyPair(), ...(now ? { now } : {}), tokens: clientCredentials({ tokenEndpoint: plain.tokenEndpoint, clientId: plain.clientId, clientSecret: plain.clientSecret, scope: 'api' }) });
        const status = (await api(plain.apiUrl)).status;
        const seen = exchanges.slice(from).filter((e) => e.server === 'as' && e.url === plain.tokenEndpoint).map((e) => [e.status, JSON.parse(e.responseBody).error_description]);
        return { status, seen };
      };
      expect(await run(() => Date.now() - TEN_MINUTES)).toEqual({ status: 200, seen: [[400, 'DPoP proof iat is not recent enough'], [200, undefined]] });
      expect(await run()).toEqual({ status: 200, seen: [[200, undefined]] }); // the control: a right clock needs one
    } finally {
      await plain.close();
    }
  });
});

describe('token sources when the server does not answer, or says too much (fake token endpoint)', () => {
  const endpoint = 'https://as.example/token';
  const verifier = 'v'.repeat(43);
  const context = (keyPair: CryptoKeyPair, fetch: typeof globalThis.fetch): TokenContext => ({ ...contextFor(keyPair), fetch });

  it('a code exchange that got no answer may be tried again; one the server refused is not sent again', async () => {
    const keyPair = await generateKeyPair();
    const sent: string[] = [];
    let mode: 'down' | 'up' | 'refuse' = 'down';
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const form = new URLSearchParams(String(init?.body));
      sent.push(form.get('code')!);
      if (mode === 'down') throw new TypeError('fetch failed');
      if (mode === 'refuse') return Response.json({ error: 'invalid_grant' }, { status: 400 });
      return Response.json({ access_token: 'at', token_type: 'DPoP', expires_in: 60 });
    }) as typeof globalThis.fetch;
    const tokens = authorizationCode({ tokenEndpoint: endpoint, clientId: 'spa', redirectUri: REDIRECT, code: 'c-1', codeVerifier: verifier });
    expect(await caught(() => tokens.getToken(context(keyPair, fetch)))).toMatchObject({ code: 'ERR_TOKEN_NETWORK' });
    mode = 'up';
    expect((await tokens.getToken(context(keyPair, fetch))).accessToken).toBe('at');
    expect(sent).toEqual(['c-1', 'c-1']);

    mode = 'refuse';
    const refused = authorizationCode({ tokenEndpoint: endpoint, clientId: 'spa', redirectUri: REDIRECT, code: 'c-2', codeVerifier: verifier });
    expect(await caught(() => refused.getToken(context(keyPair, fetch)))).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_grant' });
    const after = await caught(() => refused.getToken(context(keyPair, fetch)));
    expect(after).toMatchObject({ code: 'ERR_TOKEN_RESPONSE' });
    expect(after.message).toMatch(/already used and the token endpoint refused it\. Start the login again/);
    expect(sent).toEqual(['c-1', 'c-1', 'c-2']);
  });

  it('scrubs the refresh token, code and verifier from server text that echoes them', async () => {
    const keyPair = await generateKeyPair();
    const echo = (async (_: RequestInfo | URL, init?: RequestInit) =>
      Response.json({ error: 'invalid_grant', error_description: `bad: ${String(init?.body)}` }, { status: 400 })) as typeof globalThis.fetch;
    const rt = 'rt/Secret+12=3456'; // as a form field: rt%2FSecret%2B12%3D3456
    const fromRefresh = await caught(() => refreshToken({ tokenEndpoint: endpoint, clientId: 'spa', refreshToken: rt }).getToken(context(keyPair, echo)));
    expect(fromRefresh.message).toContain('[redacted]');
    expect(fromRefresh.message).not.toContain(rt);
    expect(fromRefresh.message).not.toContain('Secret');
    const fromCode = await caught(() => authorizationCode({ tokenEndpoint: endpoint, clientId: 'spa', redirectUri: REDIRECT, code: 'code-Secret-123', codeVerifier: verifier }).getToken(context(keyPair, echo)));
    expect(fromCode.message).not.toContain('code-Secret-123');
    expect(fromCode.message).not.toContain(verifier);
    expect(fromCode.error_description).not.toContain(verifier);
  });

  it('refreshToken checks its arguments', () => {
    expect(() => refreshToken({ tokenEndpoint: endpoint, clientId: 'spa', refreshToken: 42 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.refreshToken" must be a string' }));
    expect(() => refreshToken({ tokenEndpoint: endpoint, clientId: 'spa', refreshToken: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.refreshToken" must not be empty' }));
    expect(() => refreshToken({ tokenEndpoint: endpoint, clientId: 'spa', session: 7 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.session" must be a string' }));
    expect(() => authorizationCode({ tokenEndpoint: endpoint, clientId: 'spa', redirectUri: REDIRECT, code: 'c', codeVerifier: verifier, session: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.session" must not be empty' }));
    expect(() => refreshToken({ tokenEndpoint: endpoint, clientId: 'spa', refreshToken: 'x', onRefreshToken: 'store' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.onRefreshToken" must be a function' }));
    expect(() => authorizationCode({ tokenEndpoint: endpoint, clientId: 'spa', redirectUri: REDIRECT, code: 'c', codeVerifier: 'short' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.codeVerifier" must be 43 to 128 characters') }));
    expect(() => authorizationCode({ tokenEndpoint: endpoint, clientId: 'spa', redirectUri: `${REDIRECT}#x`, code: 'c', codeVerifier: verifier })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.redirectUri" must not have a fragment' }));
  });
});
