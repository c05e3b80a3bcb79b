// The grants a single-page app and a service use, against oidc-provider (auth code + PKCE +
// dpop_jkt, DPoP-bound rotating refresh tokens, private_key_jwt) and the oauth4webapi resource
// server. What the servers saw is read from their own wire log (onExchange), not from our code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { createHash } from 'node:crypto';
import { startPeers, type Exchange, type Peers } from '../e2e/peers.mjs';
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
} from '../src/index.ts';
import { Clock } from '../src/clock.ts';
import { NonceCache } from '../src/nonce.ts';
import { caught } from './helpers.ts';
import { UserAgent } from './support/user-agent.ts';

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
  return { keyPair, fetch: (input, init) => fetch(input, init), nonces: new NonceCache(), clock: new Clock(now), requireDPoP: true };
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
