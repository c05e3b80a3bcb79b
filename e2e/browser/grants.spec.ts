// Chromium: the SPA grants as a real page runs them, on its own origin (e2e/browser/grants/),
// against the real peers on two other origins: log in through oidc-provider's interaction,
// exchange the code (PKCE, dpop_jkt) over CORS, keep going after a reload with the rotated
// refresh token and the same IndexedDB key; private_key_jwt with a key made in the page; and a
// device whose clock is 10 minutes off. What the servers saw comes from their own wire log.
import { expect, test, type Page } from '@playwright/test';
import { decodeJwt } from 'jose';
import { startPeers, type Exchange, type Peers, type PeersOptions } from '../peers.mjs';
import type { AppConfig, CallResult } from './grants/page.ts';
import { bundlePage, startSite } from './site.mjs';

const TEN_MINUTES = 10 * 60_000;
let site: Awaited<ReturnType<typeof startSite>>;
const started: Peers[] = [];

test.beforeAll(async () => {
  site = await startSite(await bundlePage(new URL('./grants/page.ts', import.meta.url)), { anyPath: true });
});
test.afterAll(async () => {
  await Promise.all(started.map((p) => p.close()));
  await site?.close();
});

async function peersFor(options: PeersOptions = {}) {
  const wire: Exchange[] = [];
  const peers = await startPeers({
    authorizationCode: {},
    corsOrigins: [site.origin],
    onExchange: (e) => wire.push(e),
    ...options,
    clients: [
      { client_id: 'spa', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [`${site.origin}/callback`], scope: 'api', dpop_bound_access_tokens: true },
      ...(options.clients ?? []),
    ],
  });
  started.push(peers);
  const tokenRequests = () =>
    wire
      .filter((e) => e.server === 'as' && e.url === peers.tokenEndpoint && e.method === 'POST')
      .map((e) => ({ form: Object.fromEntries(new URLSearchParams(e.requestBody)), status: e.status, body: JSON.parse(e.responseBody) }));
  const apiRequests = () => wire.filter((e) => e.server === 'rs' && e.method !== 'OPTIONS');
  return { peers, wire, tokenRequests, apiRequests };
}

const config = (peers: Peers, extra: Partial<AppConfig> = {}): AppConfig => ({
  authorizationEndpoint: peers.authorizationEndpoint,
  tokenEndpoint: peers.tokenEndpoint,
  issuer: peers.issuer,
  clientId: 'spa',
  apiUrl: peers.apiUrl,
  ...extra,
});

async function open(page: Page, path = '/') {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${site.origin}${path}`);
  await page.waitForFunction(() => window.grants?.ready === true);
  return errors;
}

/** Clicks "sign in": the page leaves for the server and comes back to /callback with a code. */
async function signIn(page: Page, cfg: AppConfig): Promise<CallResult> {
  await page.evaluate((c) => void window.grants.login(c), cfg);
  await page.waitForURL((url) => url.pathname === '/callback' && url.searchParams.has('code'));
  await page.waitForFunction(() => window.grants?.ready === true);
  return page.evaluate(() => window.grants.callback());
}

test.describe('single-page app grants in Chromium', () => {
  test('code exchange with dpop_jkt and PKCE, then refresh rotation across a reload with the same IndexedDB key', async ({ page }) => {
    const { peers, wire, tokenRequests } = await peersFor();
    const errors = await open(page);
    const first = await signIn(page, config(peers));
    expect(first.failure).toBeNull();
    expect(first.status).toBe(200);
    expect(JSON.parse(first.claims!.cnf!)).toEqual({ jkt: first.thumbprint });
    expect(first.claims).toMatchObject({ sub: 'alice', client_id: 'spa' });
    expect(new URL(page.url()).search).toBe(''); // the code left the address bar

    // The authorization request carried the key's thumbprint and an S256 challenge.
    const authorize = new URL(wire.find((e) => e.server === 'as' && new URL(e.url).pathname === '/auth')!.url).searchParams;
    expect(authorize.get('dpop_jkt')).toBe(first.thumbprint);
    expect(authorize.get('code_challenge_method')).toBe('S256');
    const exchange = tokenRequests();
    expect(exchange.map((x) => [x.status, x.body.error ?? x.form.grant_type])).toEqual([[400, 'use_dpop_nonce'], [200, 'authorization_code']]);
    expect(first.refreshToken).toBe(exchange[1]!.body.refresh_token);

    await page.reload();
    await page.waitForFunction(() => window.grants?.ready === true);
    const second = await page.evaluate((c) => window.grants.resume(c), config(peers));
    expect(second.failure).toBeNull();
    expect(second.status).toBe(200);
    expect(second.thumbprint).toBe(first.thumbprint); // the key came back from IndexedDB
    expect(JSON.parse(second.claims!.cnf!)).toEqual({ jkt: first.thumbprint });
    const refresh = tokenRequests().slice(2);
    expect(refresh.map((x) => [x.status, x.body.error ?? x.form.grant_type])).toEqual([[400, 'use_dpop_nonce'], [200, 'refresh_token']]);
    expect(refresh[1]!.form.refresh_token).toBe(first.refreshToken); // the stored one was used…
    expect(second.refreshToken).toBe(refresh[1]!.body.refresh_token); // …and the rotated one stored
    expect(second.refreshToken).not.toBe(first.refreshToken);

    // Another reload with a new key: the DPoP-bound refresh token is refused.
    await page.reload();
    await page.waitForFunction(() => window.grants?.ready === true);
    const stranger = await page.evaluate((c) => window.grants.resume(c), config(peers, { keyName: 'another' }));
    expect(stranger.thumbprint).not.toBe(first.thumbprint);
    expect(stranger.failure).toMatchObject({ name: 'OAuthError', code: 'ERR_OAUTH', error: 'invalid_grant' });
    expect(errors).toEqual([]);
  });

  test('configured by issuer alone against a server that requires PAR: metadata and PAR over CORS, dpop_jkt pushed, the token bound to the key', async ({ page }) => {
    const { peers, wire, tokenRequests } = await peersFor({ requirePar: true });
    const errors = await open(page);
    const result = await signIn(page, config(peers, { viaIssuer: true, keyName: 'par' }));
    expect(result.failure).toBeNull();
    expect(result.status).toBe(200);
    expect(JSON.parse(result.claims!.cnf!)).toEqual({ jkt: result.thumbprint });
    // The page read the metadata cross-origin, pushed the request (with a preflight, as DPoP is
    // not a safelisted header), answered the PAR endpoint's nonce demand, and sent the browser
    // to the authorization endpoint with client_id and request_uri only.
    const as = wire.filter((e) => e.server === 'as').map((e) => `${e.method} ${new URL(e.url).pathname} ${e.status}`);
    expect(as.slice(0, 5)).toEqual(['GET /.well-known/oauth-authorization-server 200', 'OPTIONS /request 204', 'POST /request 400', 'POST /request 201', 'GET /auth 303']);
    const pushes = wire.filter((e) => e.server === 'as' && new URL(e.url).pathname === '/request' && e.method === 'POST');
    expect(pushes.every((e) => e.requestHeaders.origin === site.origin)).toBe(true);
    expect(new URLSearchParams(pushes[1]!.requestBody).get('dpop_jkt')).toBe(result.thumbprint);
    expect([...new URL(wire.find((e) => new URL(e.url).pathname === '/auth')!.url).searchParams.keys()]).toEqual(['client_id', 'request_uri']);
    expect(tokenRequests().map((x) => [x.status, x.body.error ?? x.form.grant_type])).toEqual([[400, 'use_dpop_nonce'], [200, 'authorization_code']]);
    expect(errors).toEqual([]);
  });

  test('private_key_jwt with a key made in the page: a nonce retry with a new assertion, none replayed', async ({ page }) => {
    await open(page);
    const jwk = await page.evaluate(() => window.grants.assertionKey());
    const { peers, tokenRequests } = await peersFor({
      clients: [{ client_id: 'service', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [{ ...jwk, alg: 'ES256', use: 'sig' }] }, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'api' }],
    });
    const result = await page.evaluate((c) => window.grants.service(c), config(peers, { clientId: 'service' }));
    expect(result.failure).toBeNull();
    expect(result.status).toBe(200);
    expect(result.claims!.client_id).toBe('service');
    const seen = tokenRequests();
    expect(seen.map((x) => [x.status, x.body.error])).toEqual([[400, 'use_dpop_nonce'], [200, undefined]]);
    const jtis = seen.map((x) => decodeJwt(x.form.client_assertion!).jti);
    expect(jtis[0]).not.toBe(jtis[1]);
    expect(seen.map((x) => decodeJwt(x.form.client_assertion!).aud)).toEqual([peers.tokenEndpoint, peers.tokenEndpoint]);
  });

  test('a device clock 10 minutes slow: servers that expose Date let it sign in, refresh and call the API', async ({ page }) => {
    const { peers, tokenRequests, apiRequests } = await peersFor({ exposeDate: true });
    await open(page);
    const cfg = config(peers, { skewMs: -TEN_MINUTES });
    const first = await signIn(page, cfg);
    expect(first.failure).toBeNull();
    expect(first.status).toBe(200);
    // One correction per server (one offset per origin): the token endpoint's Date, then the API's.
    const skews = first.events.filter((e) => e.type === 'clock-skew') as Array<{ offset: number; url: string }>;
    expect(skews.map((e) => e.url)).toEqual([peers.tokenEndpoint, peers.apiUrl]);
    for (const { offset } of skews) expect(Math.abs(offset - TEN_MINUTES)).toBeLessThan(3_000);
    // The first proof (no nonce, stale iat) got a nonce demand; the API refused its first
    // proof for its iat, and its Date corrected the second.
    expect(tokenRequests().map((x) => [x.status, x.body.error_description])).toEqual([[400, 'DPoP proof iat is not recent enough, use a DPoP nonce instead'], [200, undefined]]);
    const iats = apiRequests().slice(0, 2).map((e) => decodeJwt(String(e.requestHeaders.dpop)).iat! - Date.now() / 1000);
    expect(Math.abs(iats[0]! + 600)).toBeLessThan(10);
    expect(Math.abs(iats[1]!)).toBeLessThan(10);

    await page.reload();
    await page.waitForFunction(() => window.grants?.ready === true);
    const resumed = await page.evaluate((c) => window.grants.resume(c), cfg);
    expect(resumed.failure).toBeNull();
    expect(resumed.status).toBe(200);
  });

  test('a device clock 10 minutes slow and servers that hide Date: the API refuses the proof (why the README says to expose Date)', async ({ page }) => {
    const { peers, apiRequests } = await peersFor();
    await open(page);
    const result = await signIn(page, config(peers, { skewMs: -TEN_MINUTES }));
    // The token endpoint still works (oidc-provider does not judge iat once a nonce is in the
    // proof), but the page cannot read Date, so nothing corrects the API proofs.
    expect(result.failure).toBeNull();
    expect(result.events.filter((e) => e.type === 'clock-skew')).toEqual([]);
    expect(result.status).toBe(401);
    expect(result.challenge).toMatch(/error="invalid_dpop_proof", error_description="DPoP proof iat not recent enough"/);
    expect(apiRequests()).toHaveLength(1); // not retried: nothing new was learned
  });

  test('private_key_jwt from a device clock 10 minutes slow: refused, Date read, re-signed, then the nonce: 3 round trips', async ({ page }) => {
    await open(page);
    const jwk = await page.evaluate(() => window.grants.assertionKey());
    const { peers, tokenRequests } = await peersFor({
      exposeDate: true,
      clients: [{ client_id: 'service', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [{ ...jwk, alg: 'ES256', use: 'sig' }] }, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'api' }],
    });
    const result = await page.evaluate((c) => window.grants.service(c), config(peers, { clientId: 'service', skewMs: -TEN_MINUTES }));
    expect(result.failure).toBeNull();
    expect(result.status).toBe(200);
    const seen = tokenRequests();
    expect(seen.map((x) => [x.status, x.body.error])).toEqual([[401, 'invalid_client'], [400, 'use_dpop_nonce'], [200, undefined]]);
    expect(new Set(seen.map((x) => decodeJwt(x.form.client_assertion!).jti)).size).toBe(3);
  });
});
