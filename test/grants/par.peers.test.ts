// Pushed authorization requests (RFC 9126) with DPoP (RFC 9449 §10.1), and the FAPI 2.0
// Security Profile's DPoP variant end to end, against oidc-provider: PAR required in its
// metadata, PKCE S256, `iss` in the response, private_key_jwt, DPoP-bound tokens. What the
// servers received is read from their own wire log and judged with jose.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { createHash } from 'node:crypto';
import { startPeers, type Exchange, type Peers } from '../../e2e/peers.mjs';
import { authorizationCode as mainAuthorizationCode, calculateThumbprint, createDPoPFetch, generateKeyPair } from '../../src/index.ts';
import { authorizationCode } from '../../src/discovery.ts';
import { caught } from '../helpers.ts';
import { UserAgent } from '../support/user-agent.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
let peers: Peers; // PAR required by the server, for every client
let open: Peers; // PAR allowed, not required
const wire: Exchange[] = [];
let assertionKeys: CryptoKeyPair;

const spa = { client_id: 'spa', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [REDIRECT], scope: 'api', dpop_bound_access_tokens: true };

beforeAll(async () => {
  assertionKeys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const jwk = { ...(await crypto.subtle.exportKey('jwk', assertionKeys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  // A FAPI 2.0 confidential client: private_key_jwt, DPoP-bound tokens, code flow with refresh.
  const fapi = { client_id: 'bank.app', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [jwk] }, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [REDIRECT], scope: 'api', dpop_bound_access_tokens: true };
  [peers, open] = await Promise.all([
    startPeers({ authorizationCode: {}, requirePar: true, accessTokenTTL: 3, clients: [spa, fapi, { ...fapi, client_id: 'web.app' }], fapi2Clients: ['bank.app'], onExchange: (e) => wire.push(e) }),
    startPeers({ authorizationCode: {}, clients: [spa], onExchange: (e) => wire.push(e) }),
  ]);
});
afterAll(() => Promise.all([peers?.close(), open?.close()]));

const posts = (server: Peers, path: string, from: number) =>
  wire
    .slice(from)
    .filter((e) => e.method === 'POST' && e.url === `${server.issuer}${path}`)
    .map((e) => ({ form: Object.fromEntries(new URLSearchParams(e.requestBody)), status: e.status, body: JSON.parse(e.responseBody || '{}'), proof: e.requestHeaders.dpop as string }));
const claimsOf = async (res: Response) => Object.fromEntries(((await res.json()) as Array<{ type: string; value: string }>).map((c) => [c.type, c.value]));

describe('PAR (RFC 9126) with DPoP', () => {
  it('the metadata requires PAR: start pushes the request with a DPoP proof and dpop_jkt, and sends the browser with client_id and request_uri only', async () => {
    const keyPair = await generateKeyPair();
    const jkt = await calculateThumbprint(keyPair);
    const from = wire.length;
    const login = await authorizationCode.start({ issuer: peers.issuer, clientId: 'spa', redirectUri: REDIRECT, scope: 'api', keyPair });
    const pushes = posts(peers, '/request', from);
    // oidc-provider demands a nonce at its PAR endpoint too: one retry, with it.
    expect(pushes.map((p) => [p.status, p.body.error])).toEqual([[400, 'use_dpop_nonce'], [201, undefined]]);
    const [, pushed] = pushes;
    expect(pushed!.form).toEqual({
      response_type: 'code',
      client_id: 'spa',
      redirect_uri: REDIRECT,
      scope: 'api',
      state: login.state,
      code_challenge: createHash('sha256').update(login.codeVerifier).digest('base64url'),
      code_challenge_method: 'S256',
      dpop_jkt: jkt,
    });
    // The proof on the push is signed by the key dpop_jkt names, for the PAR endpoint, with the nonce (jose judges).
    const { payload, protectedHeader } = await jose.jwtVerify(pushed!.proof, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    expect(await jose.calculateJwkThumbprint(protectedHeader.jwk!)).toBe(jkt);
    const demanded = wire.slice(from).find((e) => e.url === peers.parEndpoint && e.status === 400)!.responseHeaders['dpop-nonce'];
    expect(payload).toMatchObject({ htm: 'POST', htu: peers.parEndpoint, nonce: demanded });
    const url = new URL(login.url);
    expect(`${url.origin}${url.pathname}`).toBe(peers.authorizationEndpoint);
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: 'spa', request_uri: pushed!.body.request_uri });

    // Sign in, exchange the code, call the API: the token is bound to the key dpop_jkt named.
    const callback = await new UserAgent().navigate(login.url, REDIRECT);
    const code = authorizationCode.parseCallback(callback, { state: login.state, issuer: peers.issuer });
    const api = createDPoPFetch({ keyPair, tokens: authorizationCode({ issuer: peers.issuer, clientId: 'spa', redirectUri: REDIRECT, code, codeVerifier: login.codeVerifier }) });
    const res = await api(peers.apiUrl);
    expect(res.status).toBe(200);
    expect(JSON.parse((await claimsOf(res)).cnf!)).toEqual({ jkt });
  });

  it('the control: the same server refuses an authorization request that was not pushed', async () => {
    const login = await mainAuthorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, scope: 'api', keyPair: await generateKeyPair() });
    const callback = await new UserAgent().navigate(login.url, REDIRECT);
    const err = await caught(() => mainAuthorizationCode.parseCallback(callback, { state: login.state }));
    expect(err).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_request', error_description: expect.stringContaining('Pushed Authorization Request must be used') });
  });

  it('a code pushed for one key cannot be redeemed with another: dpop_jkt stayed on the pushed request', async () => {
    const keyPair = await generateKeyPair();
    const login = await authorizationCode.start({ issuer: peers.issuer, clientId: 'spa', redirectUri: REDIRECT, scope: 'api', keyPair });
    const code = authorizationCode.parseCallback(await new UserAgent().navigate(login.url, REDIRECT), { state: login.state });
    const stranger = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: authorizationCode({ issuer: peers.issuer, clientId: 'spa', redirectUri: REDIRECT, code, codeVerifier: login.codeVerifier }) });
    expect(await caught(() => stranger(peers.apiUrl))).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_grant' });
  });

  it('par: true where the server does not require it: pushed to the endpoint given, without discovery', async () => {
    const keyPair = await generateKeyPair();
    const from = wire.length;
    const login = await authorizationCode.start({ authorizationEndpoint: open.authorizationEndpoint, pushedAuthorizationRequestEndpoint: open.parEndpoint, par: true, clientId: 'spa', redirectUri: REDIRECT, scope: 'api', keyPair });
    expect(wire.slice(from).map((e) => `${e.method} ${new URL(e.url).pathname} ${e.status}`)).toEqual(['POST /request 400', 'POST /request 201']);
    expect([...new URL(login.url).searchParams.keys()]).toEqual(['client_id', 'request_uri']);
    const code = authorizationCode.parseCallback(await new UserAgent().navigate(login.url, REDIRECT), { state: login.state, issuer: open.issuer });
    const res = await createDPoPFetch({ keyPair, tokens: authorizationCode({ tokenEndpoint: open.tokenEndpoint, clientId: 'spa', redirectUri: REDIRECT, code, codeVerifier: login.codeVerifier }) })(open.apiUrl);
    expect(res.status).toBe(200);
  });

  it('a refused push → OAuthError from the pushed authorization request endpoint, with its advice', async () => {
    const err = await caught(() => authorizationCode.start({ issuer: peers.issuer, clientId: 'nobody', redirectUri: REDIRECT, keyPair: assertionKeys }));
    expect(err).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_client', status: 401 });
    expect(err.message).toMatch(/^The pushed authorization request endpoint refused the request: invalid_client/);
  });
});

describe('FAPI 2.0 Security Profile, DPoP variant (oidc-provider profile "2.0")', () => {
  it('sign in (PAR, PKCE S256, private_key_jwt, iss in the response), call the API, refresh, call again: every token bound to the DPoP key', async () => {
    const keyPair = await generateKeyPair();
    const jkt = await calculateThumbprint(keyPair);
    const client = { issuer: peers.issuer, clientId: 'bank.app', clientAssertionKey: assertionKeys, clientAssertionKid: 'k1' };
    const from = wire.length;
    const login = await authorizationCode.start({ ...client, redirectUri: REDIRECT, scope: 'api', keyPair });
    const callback = await new UserAgent().navigate(login.url, REDIRECT);
    expect(new URL(callback).searchParams.get('iss')).toBe(peers.issuer); // RFC 9207, which FAPI 2.0 requires
    const code = authorizationCode.parseCallback(callback, { state: login.state, issuer: peers.issuer });

    const api = createDPoPFetch({ keyPair, requireDPoP: true, tokens: authorizationCode({ ...client, redirectUri: REDIRECT, code, codeVerifier: login.codeVerifier }) });
    const first = await claimsOf(await api(peers.apiUrl));
    // 3-second tokens are renewed a quarter of their lifetime (and a second) ahead: after 2.1 s the next call refreshes first.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const second = await claimsOf(await api(peers.apiUrl));
    expect([first.client_id, second.client_id]).toEqual(['bank.app', 'bank.app']);
    expect(second.jti).not.toBe(first.jti);
    expect([JSON.parse(first.cnf!), JSON.parse(second.cnf!)]).toEqual([{ jkt }, { jkt }]);

    // What oidc-provider received: the push and every token request authenticated with a fresh
    // private_key_jwt assertion whose aud is the issuer, PKCE S256, DPoP proofs by the same key.
    const pushes = posts(peers, '/request', from);
    const tokens = posts(peers, '/token', from);
    expect(pushes.map((p) => p.status)).toEqual([400, 201]);
    expect(pushes[1]!.form).toMatchObject({ code_challenge_method: 'S256', dpop_jkt: jkt, client_id: 'bank.app' });
    expect(tokens.map((t) => [t.status, t.form.grant_type])).toEqual([
      [400, 'authorization_code'],
      [200, 'authorization_code'],
      [200, 'refresh_token'], // the nonce was known by then
    ]);
    const assertions = [...pushes, ...tokens].map((x) => x.form.client_assertion!);
    expect(new Set(assertions).size).toBe(5);
    for (const assertion of assertions) {
      const { payload } = await jose.jwtVerify(assertion, assertionKeys.publicKey, { algorithms: ['ES256'], audience: peers.issuer });
      expect(payload).toMatchObject({ iss: 'bank.app', sub: 'bank.app' });
    }
    for (const { proof } of [...pushes, ...tokens]) {
      const { protectedHeader } = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
      expect(await jose.calculateJwkThumbprint(protectedHeader.jwk!)).toBe(jkt);
    }
    expect(tokens.every((t) => t.form.client_secret === undefined)).toBe(true);
  });

  it('issuer, authorizationEndpoint and pushedAuthorizationRequestEndpoint all given (no metadata read) → the assertion\'s aud is still the issuer, which the FAPI 2.0 client needs', async () => {
    const from = wire.length;
    const login = await authorizationCode.start({
      issuer: peers.issuer,
      authorizationEndpoint: peers.authorizationEndpoint,
      pushedAuthorizationRequestEndpoint: peers.parEndpoint,
      par: true,
      clientId: 'bank.app',
      clientAssertionKey: assertionKeys,
      clientAssertionKid: 'k1',
      redirectUri: REDIRECT,
      keyPair: await generateKeyPair(),
    });
    expect(wire.slice(from).map((e) => `${e.method} ${new URL(e.url).pathname} ${e.status}`)).toEqual(['POST /request 400', 'POST /request 201']);
    expect(new URL(login.url).searchParams.has('request_uri')).toBe(true);
  });

  it('the control: the FAPI 2.0 profile is in force, an assertion whose aud is the PAR endpoint refused for its client and accepted for another', async () => {
    const start = (clientId: string) =>
      authorizationCode.start({ issuer: peers.issuer, clientId, clientAssertionKey: assertionKeys, clientAssertionKid: 'k1', clientAssertionAudience: peers.parEndpoint, redirectUri: REDIRECT, keyPair: assertionKeys });
    expect(await caught(() => start('bank.app'))).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_client', status: 401 });
    expect(new URL((await start('web.app')).url).searchParams.has('request_uri')).toBe(true);
  });
});
