// Authorization server metadata (src/discovery/authorization-server.ts) against in-process fake
// servers: what a document must hold to be used, where it is looked for, and the cache of
// issuers (kept, refetched when stale, failed fetches never kept, 100 issuers at most). What a
// real server publishes is checked against oidc-provider in discovery.peers.test.ts.
import { describe, expect, it } from 'vitest';
import { discover } from '../../src/discovery.ts';
import { issuerUrl, metadataOf, type AuthorizationServerMetadata } from '../../src/discovery/authorization-server.ts';
import { caught, recordingFetch } from '../helpers.ts';

let next = 0;
/** An issuer no other test has asked for (the cache is the module's). */
const newIssuer = (path = '') => `https://as${++next}-${crypto.randomUUID().slice(0, 8)}.example${path}`;

/** Metadata for `issuer`, with `extra` members (undefined ones left out). */
function metadata(issuer: string, extra: Record<string, unknown> = {}) {
  return { issuer, token_endpoint: `${issuer}/token`, ...extra };
}
const json = (body: unknown) => Response.json(body, { headers: { 'cache-control': 'max-age=600' } });

/** A fake server answering every issuer's RFC 8414 document with `body(issuer origin + path)`. */
function servingAll(body: (issuer: string) => unknown = metadata) {
  return recordingFetch((request) => {
    const url = new URL(request.url);
    const prefix = '/.well-known/oauth-authorization-server';
    if (!url.pathname.startsWith(prefix)) return new Response(null, { status: 404 });
    return json(body(url.origin + url.pathname.slice(prefix.length)));
  });
}

describe('issuerUrl', () => {
  it('a TypeError for a value that is not a string; a query, even an empty one, is refused', () => {
    expect(() => issuerUrl(42, 'options.issuer', false)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.issuer" must be a string' }));
    expect(() => issuerUrl('https://as.example/?', 'options.issuer', false)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.issuer" has a query') }));
    expect(issuerUrl('https://as.example/t', 'options.issuer', false).href).toBe('https://as.example/t');
  });
});

describe('what a document must hold', () => {
  /** The error discover() rejects with for an issuer whose document is `extra` over good metadata. */
  async function refused(extra: Record<string, unknown>) {
    const issuer = newIssuer();
    const { fetch } = servingAll((i) => metadata(i, extra));
    return (await caught(() => discover(issuer, { fetch }))) as Error & { code: string };
  }

  it('an issuer that is missing, not a string, or another: ERR_DISCOVERY quoting at most 200 characters of it', async () => {
    expect((await refused({ issuer: undefined })).message).toContain(' names no issuer, not the issuer asked for');
    expect((await refused({ issuer: 42 })).message).toContain(' names no issuer, not the issuer asked for');
    const long = `https://${'a'.repeat(300)}.example`;
    const err = await refused({ issuer: long });
    expect(err).toMatchObject({ code: 'ERR_DISCOVERY' });
    expect(err.message).toContain(` names "${long.slice(0, 200)}", not the issuer asked for`);
  });

  it('require_pushed_authorization_requests not a boolean → ERR_DISCOVERY', async () => {
    expect(await refused({ require_pushed_authorization_requests: 'true' })).toMatchObject({
      code: 'ERR_DISCOVERY',
      message: expect.stringMatching(/^The authorization server https:\S+ has a "require_pushed_authorization_requests" that is not a boolean\. Fix the server's metadata\.$/),
    });
  });

  it('token_endpoint_auth_methods_supported not a list of strings → ERR_DISCOVERY', async () => {
    for (const methods of ['client_secret_post', ['private_key_jwt', 7]]) {
      expect(await refused({ token_endpoint_auth_methods_supported: methods })).toMatchObject({
        code: 'ERR_DISCOVERY',
        message: expect.stringMatching(/ has a "token_endpoint_auth_methods_supported" that is not a list of strings\. Fix the server's metadata\.$/),
      });
    }
  });

  it('without the optional members: used as it is, frozen down to its nested members', async () => {
    const issuer = newIssuer();
    const { fetch } = servingAll((i) => ({ issuer: i, token_endpoint: `${i}/token`, mtls_endpoint_aliases: { token_endpoint: `${i}/mtls` }, ui_locales_supported: null, n: 1 }));
    const as = await discover(issuer, { fetch });
    expect(as).toEqual({ issuer, token_endpoint: `${issuer}/token`, mtls_endpoint_aliases: { token_endpoint: `${issuer}/mtls` }, ui_locales_supported: null, n: 1 });
    expect(Object.isFrozen(as) && Object.isFrozen(as.mtls_endpoint_aliases)).toBe(true);
  });

  it('any endpoint that is no usable URL refuses the whole document: not kept, asked again next time', async () => {
    for (const member of ['authorization_endpoint', 'token_endpoint', 'pushed_authorization_request_endpoint']) {
      const issuer = newIssuer();
      const { fetch, seen } = servingAll((i) => metadata(i, { [member]: `${i}/${member}#x` }));
      for (let i = 0; i < 2; i++) {
        expect(await caught(() => discover(issuer, { fetch }))).toMatchObject({ code: 'ERR_DISCOVERY', message: `The ${member} in the metadata of ${issuer} has a fragment. Fix the server's metadata.` });
      }
      expect(seen).toHaveLength(2);
    }
  });
});

describe('where a document is looked for', () => {
  it('an issuer with a path: RFC 8414 before the path, then OpenID Connect after it; both named when neither answers', async () => {
    const issuer = newIssuer('/tenant');
    const oidc = `${issuer}/.well-known/openid-configuration`;
    const { fetch, seen } = recordingFetch((request) => (request.url === oidc ? json(metadata(issuer)) : new Response(null, { status: 404 })));
    expect((await discover(issuer, { fetch })).issuer).toBe(issuer);
    expect(seen.map((r) => r.url)).toEqual([`${new URL(issuer).origin}/.well-known/oauth-authorization-server/tenant`, oidc]);

    const missing = newIssuer();
    const none = recordingFetch(() => new Response(null, { status: 404 }));
    expect(await caught(() => discover(missing, { fetch: none.fetch }))).toMatchObject({
      message: `Found no metadata for the issuer ${missing}: ${missing}/.well-known/oauth-authorization-server answered HTTP 404; ${missing}/.well-known/openid-configuration answered HTTP 404. Check the issuer (exactly as the server writes it), or pass the endpoints yourself.`,
    });
  });
});

describe('the cache of issuers', () => {
  const fetchOf = (issuer: string, send: typeof fetch, stale?: Promise<AuthorizationServerMetadata>) => metadataOf(issuer, new URL(issuer), send, stale);

  it('a copy a caller found unusable is fetched again once; any other copy it names changes nothing', async () => {
    const issuer = newIssuer();
    const { fetch, seen } = servingAll();
    const first = fetchOf(issuer, fetch);
    await first;
    expect(fetchOf(issuer, fetch, Promise.resolve(await first))).toBe(first);
    expect(seen).toHaveLength(1);
    const second = fetchOf(issuer, fetch, first);
    expect(second).not.toBe(first);
    await second;
    expect(fetchOf(issuer, fetch, first)).toBe(second); // `first` is no longer the cached copy
    expect(seen).toHaveLength(2);
  });

  it('an older fetch that fails does not drop the newer one that replaced it', async () => {
    const issuer = newIssuer();
    let failFirst!: (err: Error) => void;
    const { fetch, seen } = recordingFetch((request, n) =>
      n === 1 ? new Promise<Response>((_, reject) => (failFirst = reject)) : json(metadata(new URL(request.url).origin)),
    );
    const first = fetchOf(issuer, fetch);
    const second = fetchOf(issuer, fetch, first);
    await second;
    failFirst(new TypeError('fetch failed'));
    expect(await caught(() => first)).toMatchObject({ code: 'ERR_DISCOVERY' });
    expect(fetchOf(issuer, fetch)).toBe(second);
    expect(seen).toHaveLength(2);
  });

  it('keeps 100 issuers: the 101st drops the one fetched longest ago; a refetch counts as new', async () => {
    const { fetch, seen } = servingAll();
    const issuers = Array.from({ length: 100 }, () => newIssuer());
    const copies = new Map<string, Promise<AuthorizationServerMetadata>>();
    for (const issuer of issuers) {
      copies.set(issuer, fetchOf(issuer, fetch));
      await copies.get(issuer);
    }
    const asked = () => seen.length;
    // All 100 kept.
    for (const issuer of [issuers[0]!, issuers[99]!]) expect(fetchOf(issuer, fetch)).toBe(copies.get(issuer));
    expect(asked()).toBe(100);
    // issuers[0] refetched (stale): now the newest; the 101st issuer drops issuers[1].
    await fetchOf(issuers[0]!, fetch, copies.get(issuers[0]!));
    await fetchOf(newIssuer(), fetch);
    expect(asked()).toBe(102);
    await fetchOf(issuers[0]!, fetch);
    expect(asked()).toBe(102);
    await fetchOf(issuers[1]!, fetch);
    expect(asked()).toBe(103);
    await fetchOf(issuers[99]!, fetch);
    expect(asked()).toBe(103);
  });
});
