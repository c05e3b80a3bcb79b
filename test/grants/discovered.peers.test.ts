// The token sources of `dpop-fetch/discovery` against the real peers: configured by `issuer`
// (every grant, and authorizationCode.start), or by nothing but the API's URL (client
// credentials, RFC 9728). What went over the wire, and in which order, is read from the
// servers' own logs; assertions are verified with jose.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { startPeers, type Exchange, type Peers } from '../../e2e/peers.mjs';
import { calculateThumbprint, createDPoPFetch, generateKeyPair, type TokenContext } from '../../src/index.ts';
import { authorizationCode, clientCredentials, refreshToken } from '../../src/discovery.ts';
import { createClock } from '../../src/clock.ts';
import { createNonceCache } from '../../src/nonce.ts';
import { caught } from '../helpers.ts';
import { UserAgent } from '../support/user-agent.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
let peers: Peers;
const wire: Exchange[] = [];
let assertionKeys: CryptoKeyPair;

async function keyClient(clientId: string) {
  const jwk = { ...(await crypto.subtle.exportKey('jwk', assertionKeys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  return { client_id: clientId, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [jwk] }, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'api' };
}

beforeAll(async () => {
  assertionKeys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  peers = await startPeers({
    authorizationCode: {},
    clients: [
      { client_id: 'spa', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [REDIRECT], scope: 'api', dpop_bound_access_tokens: true },
      await keyClient('service.fapi2'),
    ],
    fapi2Clients: ['service.fapi2'],
    onExchange: (e) => wire.push(e),
  });
});
afterAll(() => peers?.close());

/** What the servers saw from now on: "server METHOD path status", with the token request's error when it failed. */
function log() {
  const from = wire.length;
  return () =>
    wire
      .slice(from)
      .filter((e) => e.method !== 'OPTIONS')
      .map((e) => `${e.server} ${e.method} ${new URL(e.url).pathname} ${e.status}${e.status === 400 ? ` ${JSON.parse(e.responseBody).error}` : ''}`);
}
const formsTo = (path: string, from = 0) => wire.slice(from).filter((e) => new URL(e.url).pathname === path && e.method === 'POST').map((e) => Object.fromEntries(new URLSearchParams(e.requestBody)));
const claimsOf = async (res: Response) => Object.fromEntries(((await res.json()) as Array<{ type: string; value: string }>).map((c) => [c.type, c.value]));
const contextFor = (keyPair: CryptoKeyPair): TokenContext => ({ keyPair, fetch: (i, init) => fetch(i, init), nonces: createNonceCache(), clock: createClock(), requireDPoP: true });

describe('issuer in place of endpoints', () => {
  it('clientCredentials({ issuer }): one metadata request, then the usual 2 + 2 round trips; the client authentication is picked from the metadata', async () => {
    const fresh = await startPeers({ onExchange: (e) => wire.push(e) });
    try {
      const seen = log();
      const from = wire.length;
      const keyPair = await generateKeyPair();
      const api = createDPoPFetch({ keyPair, tokens: clientCredentials({ issuer: fresh.issuer, clientId: fresh.clientId, clientSecret: fresh.clientSecret, scope: 'api' }) });
      const res = await api(fresh.apiUrl);
      expect(res.status).toBe(200);
      expect(JSON.parse((await claimsOf(res)).cnf!)).toEqual({ jkt: await calculateThumbprint(keyPair) });
      expect(seen()).toEqual([
        'as GET /.well-known/oauth-authorization-server 200',
        'as POST /token 400 use_dpop_nonce',
        'as POST /token 200',
        'rs GET /api/dpop/test 401',
        'rs GET /api/dpop/test 200',
      ]);
      // oidc-provider lists client_secret_post among others: it is picked, as with endpoints given.
      expect(formsTo('/token', from)[1]).toEqual({ grant_type: 'client_credentials', scope: 'api', client_id: fresh.clientId, client_secret: fresh.clientSecret });
    } finally {
      await fresh.close();
    }
  });

  it('50 concurrent first requests → one metadata request, one token (with its nonce retry)', async () => {
    const fresh = await startPeers({ onExchange: (e) => wire.push(e) });
    try {
      const seen = log();
      const api = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: clientCredentials({ issuer: fresh.issuer, clientId: fresh.clientId, clientSecret: fresh.clientSecret, scope: 'api' }) });
      const results = await Promise.all(Array.from({ length: 50 }, () => api(fresh.apiUrl)));
      expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
      await Promise.all(results.map((r) => r.body?.cancel()));
      const as = seen().filter((line) => line.startsWith('as '));
      expect(as).toEqual(['as GET /.well-known/oauth-authorization-server 200', 'as POST /token 400 use_dpop_nonce', 'as POST /token 200']);
    } finally {
      await fresh.close();
    }
  });

  it('authorizationCode.start({ issuer }) → the authorization endpoint from the metadata; authorizationCode({ issuer }) and refreshToken({ issuer }) → its token endpoint', async () => {
    const keyPair = await generateKeyPair();
    const login = await authorizationCode.start({ issuer: peers.issuer, clientId: 'spa', redirectUri: REDIRECT, scope: 'api', keyPair });
    expect(login.url.startsWith(`${peers.authorizationEndpoint}?`)).toBe(true);
    expect(new URL(login.url).searchParams.get('dpop_jkt')).toBe(await calculateThumbprint(keyPair));
    const callback = await new UserAgent().navigate(login.url, REDIRECT);
    const code = authorizationCode.parseCallback(callback, { state: login.state, issuer: peers.issuer });
    let stored = '';
    const from = wire.length;
    const api = createDPoPFetch({ keyPair, tokens: authorizationCode({ issuer: peers.issuer, clientId: 'spa', redirectUri: REDIRECT, code, codeVerifier: login.codeVerifier, onRefreshToken: (rt) => void (stored = rt) }) });
    expect((await api(peers.apiUrl)).status).toBe(200);
    expect(formsTo('/token', from).map((f) => f.grant_type)).toEqual(['authorization_code', 'authorization_code']); // the nonce retry

    const resumed = createDPoPFetch({ keyPair, tokens: refreshToken({ issuer: peers.issuer, clientId: 'spa', refreshToken: stored, onRefreshToken: (rt) => void (stored = rt) }) });
    const res = await resumed(peers.apiUrl);
    expect(res.status).toBe(200);
    expect((await claimsOf(res)).sub).toBe('alice');
    expect(formsTo('/token', from).map((f) => f.grant_type).slice(2)).toEqual(['refresh_token', 'refresh_token']);
  });

  it('private_key_jwt with { issuer }: the assertion aud is the issuer, which a FAPI 2.0 client needs', async () => {
    const from = wire.length;
    const token = await clientCredentials({ issuer: peers.issuer, clientId: 'service.fapi2', clientAssertionKey: assertionKeys, clientAssertionKid: 'k1', scope: 'api' }).getToken(contextFor(await generateKeyPair()));
    expect(jose.decodeJwt(token.accessToken).client_id).toBe('service.fapi2');
    const assertion = formsTo('/token', from).at(-1)!.client_assertion!;
    expect((await jose.jwtVerify(assertion, assertionKeys.publicKey)).payload.aud).toBe(peers.issuer);
  });

  it('metadata listing only client_secret_basic → Basic authentication picked for a secret; the basic-only client is accepted', async () => {
    const fresh = await startPeers({ onExchange: (e) => wire.push(e) });
    try {
      const basicOnly: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        if (!String(input).includes('/.well-known/')) return res;
        const json = { ...(await res.json()), token_endpoint_auth_methods_supported: ['client_secret_basic'] };
        return Response.json(json, { headers: { 'cache-control': 'no-store' } });
      };
      const from = wire.length;
      const { clientId, clientSecret } = fresh.basicClient;
      const token = await clientCredentials({ issuer: fresh.issuer, clientId, clientSecret, scope: 'api' }).getToken({ ...contextFor(await generateKeyPair()), fetch: basicOnly });
      expect(token.tokenType).toBe('DPoP');
      const request = wire.slice(from).filter((e) => e.method === 'POST').at(-1)!;
      expect(request.requestHeaders.authorization).toMatch(/^Basic /);
      expect(request.requestBody).not.toContain('client_secret');
    } finally {
      await fresh.close();
    }
  });

  it('checks its arguments: neither tokenEndpoint nor issuer (refreshToken, authorizationCode, start), an issuer with a query, par without where to push', async () => {
    const keyPair = await generateKeyPair();
    expect(() => refreshToken({ clientId: 'spa', refreshToken: 'x' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.tokenEndpoint" must be a string or URL, unless options.issuer is given' }));
    expect(() => authorizationCode({ clientId: 'spa', redirectUri: REDIRECT, code: 'c', codeVerifier: 'v'.repeat(43) })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => clientCredentials({ issuer: `${peers.issuer}?x=1`, clientId: 'a', clientSecret: 's' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.issuer" has a query') }));
    expect(() => clientCredentials({ issuer: 'http://as.example', clientId: 'a', clientSecret: 's' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => clientCredentials({ clientId: 'a', clientSecret: 's', authMethod: 'none' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.clientSecret" is not used') }));
    await expect(authorizationCode.start({ clientId: 'spa', redirectUri: REDIRECT, keyPair })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.authorizationEndpoint" must be a string or URL, unless options.issuer is given' });
    await expect(authorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, par: true, clientId: 'spa', redirectUri: REDIRECT, keyPair })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.par" needs options.pushedAuthorizationRequestEndpoint') });
    await expect(authorizationCode.start({ issuer: peers.issuer, par: 'yes' as never, clientId: 'spa', redirectUri: REDIRECT, keyPair })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.par" must be a boolean' });
    // With endpoints, the discovery entry's sources are the main entry's: no metadata is fetched.
    const from = wire.length;
    const login = await authorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, keyPair });
    expect(login.url.startsWith(`${peers.authorizationEndpoint}?`)).toBe(true);
    expect(wire.length).toBe(from);
  });
});

describe('nothing but the API URL (RFC 9728)', () => {
  it('the API names its metadata, which names the issuer: 2 metadata requests + 4, the token asked for the API as resource', async () => {
    const fresh = await startPeers({ onExchange: (e) => wire.push(e) });
    try {
      // Today's count for comparison: the same client given its token endpoint.
      const given = log();
      const withEndpoint = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: clientCredentials({ tokenEndpoint: fresh.tokenEndpoint, clientId: fresh.clientId, clientSecret: fresh.clientSecret, scope: 'api' }) });
      expect((await withEndpoint(fresh.apiUrl)).status).toBe(200);
      expect(given()).toHaveLength(4);

      const seen = log();
      const from = wire.length;
      const keyPair = await generateKeyPair();
      const api = createDPoPFetch({ keyPair, tokens: clientCredentials({ clientId: fresh.clientId, clientSecret: fresh.clientSecret, scope: 'api' }) });
      const res = await api(fresh.apiUrl);
      expect(res.status).toBe(200);
      const claims = await claimsOf(res);
      expect(claims.aud).toBe(fresh.resource);
      expect(JSON.parse(claims.cnf!)).toEqual({ jkt: await calculateThumbprint(keyPair) });
      expect(seen()).toEqual([
        'rs GET /api/dpop/test 401', // no token: the challenge names the metadata, and the answer brings the API's nonce
        'rs GET /.well-known/oauth-protected-resource 200',
        'as GET /.well-known/oauth-authorization-server 200',
        'as POST /token 400 use_dpop_nonce',
        'as POST /token 200',
        'rs GET /api/dpop/test 200', // with the nonce learned from the first answer: no retry
      ]);
      expect(formsTo('/token', from)[1]).toMatchObject({ grant_type: 'client_credentials', scope: 'api', resource: fresh.resource });
      const steady = log();
      expect((await api(fresh.apiUrl)).status).toBe(200);
      expect(steady()).toEqual(['rs GET /api/dpop/test 200']);
    } finally {
      await fresh.close();
    }
  });

  it('50 concurrent first requests → one request without a token, one of each metadata, one token: 55 requests', async () => {
    const fresh = await startPeers({ onExchange: (e) => wire.push(e) });
    try {
      const seen = log();
      const api = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: clientCredentials({ clientId: fresh.clientId, clientSecret: fresh.clientSecret, scope: 'api' }) });
      const results = await Promise.all(Array.from({ length: 50 }, () => api(fresh.apiUrl)));
      expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
      await Promise.all(results.map((r) => r.body?.cancel()));
      const lines = seen();
      expect(lines.filter((l) => !l.endsWith('/api/dpop/test 200'))).toEqual([
        'rs GET /api/dpop/test 401',
        'rs GET /.well-known/oauth-protected-resource 200',
        'as GET /.well-known/oauth-authorization-server 200',
        'as POST /token 400 use_dpop_nonce',
        'as POST /token 200',
      ]);
      expect(lines).toHaveLength(55);
    } finally {
      await fresh.close();
    }
  });

  it('private_key_jwt from the API URL only: the assertion aud is the issuer the API named, as a FAPI 2.0 client needs', async () => {
    const from = wire.length;
    const api = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: clientCredentials({ clientId: 'service.fapi2', clientAssertionKey: assertionKeys, clientAssertionKid: 'k1', scope: 'api' }) });
    const res = await api(peers.apiUrl);
    expect(res.status).toBe(200);
    expect((await claimsOf(res)).client_id).toBe('service.fapi2');
    const assertion = formsTo('/token', from).at(-1)!.client_assertion!;
    expect((await jose.jwtVerify(assertion, assertionKeys.publicKey)).payload.aud).toBe(peers.issuer);
  });

  it('an API whose 401 names no metadata → the well-known URLs: one request more', async () => {
    const quiet = await startPeers({ resourceMetadata: 'well-known', onExchange: (e) => wire.push(e) });
    try {
      const seen = log();
      const api = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: clientCredentials({ clientId: quiet.clientId, clientSecret: quiet.clientSecret, scope: 'api' }) });
      expect((await api(quiet.apiUrl)).status).toBe(200);
      expect(seen().slice(0, 3)).toEqual(['rs GET /api/dpop/test 401', 'rs GET /.well-known/oauth-protected-resource/api/dpop/test 404', 'rs GET /.well-known/oauth-protected-resource 200']);
      expect(seen()).toHaveLength(7);
    } finally {
      await quiet.close();
    }
  });

  it('a resource the caller names wins over the metadata\'s; getToken outside createDPoPFetch → ERR_DISCOVERY saying what to pass', async () => {
    const from = wire.length;
    const api = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: clientCredentials({ clientId: peers.clientId, clientSecret: peers.clientSecret, resource: peers.resource }) });
    expect((await api(peers.apiUrl)).status).toBe(200);
    expect(wire.slice(from).filter((e) => e.method === 'POST').map((e) => new URLSearchParams(e.requestBody).getAll('resource'))).toEqual([[peers.resource], [peers.resource]]);

    const err = await caught(async () => clientCredentials({ clientId: peers.clientId, clientSecret: peers.clientSecret }).getToken(contextFor(await generateKeyPair())));
    expect(err).toMatchObject({ code: 'ERR_DISCOVERY', message: expect.stringContaining('neither tokenEndpoint nor issuer') });
  });
});
