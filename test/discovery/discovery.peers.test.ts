// discover() and protectedResource() against the real peers: oidc-provider's own metadata
// (it serves both RFC 8414 and OpenID Connect documents) and the oauth4webapi resource server's
// RFC 9728 document. Well-known URLs are judged against oauth4webapi's own construction, and
// what went over the wire is read from the servers' logs.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as oauth from 'oauth4webapi';
import { startPeers, type Exchange, type Peers } from '../../e2e/peers.mjs';
import { discover, protectedResource } from '../../src/discovery.ts';
import { wellKnown } from '../../src/discovery/authorization-server.ts';
import { freshness } from '../../src/discovery/document.ts';
import { caught } from '../helpers.ts';

let peers: Peers;
const wire: Exchange[] = [];
beforeAll(async () => {
  peers = await startPeers({ onExchange: (e) => wire.push(e) });
});
afterAll(() => peers?.close());

/** The requests the servers saw from now on, as "server METHOD path status". */
function log() {
  const from = wire.length;
  return () => wire.slice(from).map((e) => `${e.server} ${e.method} ${new URL(e.url).pathname} ${e.status}`);
}

/** The URL oauth4webapi's discoveryRequest fetches for an issuer (its own construction, not ours). */
async function o4wUrl(issuer: string, algorithm: 'oauth2' | 'oidc'): Promise<string> {
  let seen = '';
  await oauth.discoveryRequest(new URL(issuer), { algorithm, [oauth.allowInsecureRequests]: true, [oauth.customFetch]: async (url) => ((seen = String(url)), new Response('{}')) });
  return seen;
}

describe('discover(issuer)', () => {
  it("fetches oidc-provider's RFC 8414 metadata with one GET, its issuer exactly the one given", async () => {
    const seen = log();
    const as = await discover(peers.issuer);
    expect(as).toMatchObject({ issuer: peers.issuer, token_endpoint: peers.tokenEndpoint, authorization_endpoint: peers.authorizationEndpoint, dpop_signing_alg_values_supported: ['ES256'] });
    expect(as.token_endpoint_auth_methods_supported).toContain('client_secret_post');
    expect(seen()).toEqual(['as GET /.well-known/oauth-authorization-server 200']);
    // The same object for the next caller, which nobody can change under the others' feet.
    expect(await discover(peers.issuer)).toBe(as);
    expect(Object.isFrozen(as) && Object.isFrozen(as.token_endpoint_auth_methods_supported)).toBe(true);
    expect(seen()).toHaveLength(1);
  });

  it('well-known URLs are where oauth4webapi looks: RFC 8414 inserted before the path, OIDC appended to it', async () => {
    for (const issuer of ['https://as.example', 'https://as.example/', 'https://as.example/tenant', 'https://as.example/tenant/', 'https://as.example/a/b']) {
      expect(wellKnown(new URL(issuer), 'oauth-authorization-server').href, issuer).toBe(await o4wUrl(issuer, 'oauth2'));
      expect(wellKnown(new URL(issuer), 'openid-configuration', true).href, issuer).toBe(await o4wUrl(issuer, 'oidc'));
    }
  });

  it('50 concurrent calls for one issuer share one request', async () => {
    const fresh = await startPeers({ onExchange: (e) => wire.push(e) });
    try {
      const seen = log();
      const all = await Promise.all(Array.from({ length: 50 }, () => discover(fresh.issuer)));
      expect(new Set(all).size).toBe(1);
      expect(seen()).toEqual(['as GET /.well-known/oauth-authorization-server 200']);
    } finally {
      await fresh.close();
    }
  });

  it('a failed fetch is not kept: the next call asks again', async () => {
    const fresh = await startPeers({ onExchange: (e) => wire.push(e) });
    try {
      const seen = log();
      let down = true;
      const flaky: typeof fetch = (input, init) => (down ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init));
      expect(await caught(() => discover(fresh.issuer, { fetch: flaky }))).toMatchObject({ code: 'ERR_DISCOVERY' });
      down = false;
      expect((await discover(fresh.issuer, { fetch: flaky })).issuer).toBe(fresh.issuer);
      expect(seen()).toEqual(['as GET /.well-known/oauth-authorization-server 200']);
    } finally {
      await fresh.close();
    }
  });

  it('is kept for its HTTP freshness: max-age 60 → asked again after 60 s; none stated → after an hour; no-store → every time', async () => {
    const fresh = await startPeers({ onExchange: (e) => wire.push(e) });
    let cacheControl: string | undefined = 'max-age=60';
    // The real document, with the Cache-Control under test.
    const withCache: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const headers = new Headers(res.headers);
      if (cacheControl) headers.set('cache-control', cacheControl);
      return new Response(res.body, { status: res.status, headers });
    };
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now');
    try {
      const seen = log();
      const at = async (ms: number) => (clock.mockReturnValue(now + ms), discover(fresh.issuer, { fetch: withCache }));
      await at(0);
      await at(59_000);
      expect(seen()).toHaveLength(1);
      cacheControl = undefined;
      await at(61_000); // stale: fetched again, now without freshness information
      expect(seen()).toHaveLength(2);
      await at(61_000 + 3_599_000);
      expect(seen()).toHaveLength(2);
      cacheControl = 'no-store';
      await at(61_000 + 3_601_000);
      expect(seen()).toHaveLength(3);
      await at(61_000 + 3_601_000);
      expect(seen()).toHaveLength(4);
    } finally {
      clock.mockRestore();
      await fresh.close();
    }
  });

  it('checks its arguments: an issuer that is not a string, has a query, or is http: on a host that is not loopback', async () => {
    expect(await caught(() => discover(new URL(peers.issuer) as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"issuer" must be a string' });
    expect(await caught(() => discover(`${peers.issuer}?tenant=a`))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"issuer" has a query') });
    expect(await caught(() => discover('http://as.example'))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"issuer" is not an https: URL') });
    expect(await caught(() => discover(peers.issuer, { fetch: 'no' as never }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.fetch" must be a function' });
  });
});

describe('freshness (RFC 9111 §4.2.1)', () => {
  const of = (headers: Record<string, string>) => freshness(new Headers(headers));
  it('reads max-age, no-store, no-cache, Expires minus Date and Age; an hour by default, a day at most', () => {
    expect(of({})).toBe(3_600_000);
    expect(of({ 'cache-control': 'public, max-age=300' })).toBe(300_000);
    expect(of({ 'cache-control': 'max-age=300', age: '100' })).toBe(200_000);
    expect(of({ 'cache-control': 'max-age=300', age: '400' })).toBe(0);
    expect(of({ 'cache-control': 'no-store' })).toBe(0);
    expect(of({ 'cache-control': 'max-age=300, no-cache' })).toBe(0);
    expect(of({ 'cache-control': 'max-age=99999999' })).toBe(86_400_000);
    expect(of({ date: 'Thu, 26 Nov 2026 10:00:00 GMT', expires: 'Thu, 26 Nov 2026 10:10:00 GMT' })).toBe(600_000);
    expect(of({ expires: '0' })).toBe(0);
    expect(of({ 'cache-control': 's-maxage=600' })).toBe(3_600_000); // a shared cache's, not ours
  });
});

describe('protectedResource(url)', () => {
  it("asks the API once without a token; its 401 names the metadata (resource_metadata): two requests", async () => {
    const seen = log();
    const rs = await protectedResource(peers.apiUrl);
    expect(rs).toEqual({ resource: peers.resource, authorization_servers: [peers.issuer], scopes_supported: ['api'], bearer_methods_supported: ['header'], dpop_signing_alg_values_supported: ['ES256'], dpop_bound_access_tokens_required: true });
    expect(seen()).toEqual(['rs GET /api/dpop/test 401', 'rs GET /.well-known/oauth-protected-resource 200']);
    const probe = wire.at(-2)!;
    expect(probe.requestHeaders.authorization).toBeUndefined();
    expect(probe.requestHeaders.dpop).toBeUndefined();
  });

  it('an API whose 401 names no metadata: the well-known URL for the path (404), then for the origin', async () => {
    const quiet = await startPeers({ resourceMetadata: 'well-known', onExchange: (e) => wire.push(e) });
    try {
      const seen = log();
      expect((await protectedResource(`${quiet.apiUrl}?q=1#top`)).resource).toBe(quiet.resource);
      expect(seen()).toEqual(['rs GET /api/dpop/test 401', 'rs GET /.well-known/oauth-protected-resource/api/dpop/test 404', 'rs GET /.well-known/oauth-protected-resource 200']);
    } finally {
      await quiet.close();
    }
  });

  it('checks its arguments', async () => {
    expect(await caught(() => protectedResource('/api'))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: '"url" must be an absolute http: or https: URL' });
    expect(await caught(() => protectedResource('http://api.example/x'))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"url" is not an https: URL') });
    expect(await caught(() => protectedResource('https://u:p@api.example/x'))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: '"url" carries credentials' });
  });
});
