// Protected resource metadata (src/discovery/protected-resource.ts) part by part: which
// challenge's resource_metadata is used, what the document must hold, and the probe without a
// token (never redirected, aborted with the caller's signal, a connection that fails). The
// redirect case runs over real HTTP (node:http); the others against in-process fake servers.
// oauth4webapi's resource server, the real peer, is in discovery.peers.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { protectedResource } from '../../src/discovery.ts';
import { caught, recordingFetch } from '../helpers.ts';
import { sendJson, startFaultServer, type FaultServer } from '../support/fault-server.ts';

const api = 'https://api.example/v1/things';
const WELL_KNOWN = 'https://api.example/.well-known/oauth-protected-resource';
const doc = (extra: Record<string, unknown> = {}) => ({ resource: 'https://api.example/v1', authorization_servers: ['https://as.example'], ...extra });
const json = (body: unknown) => Response.json(body);

/**
 * A fake API: the probe (`api`'s path) answers `status` with `challenge`; `documents` maps
 * URLs to the metadata found there; anything else is a 404.
 */
function server(challenge: string | null, documents: Record<string, unknown>, status = 401) {
  return recordingFetch((request) => {
    if (request.url === api) return new Response(null, { status, headers: challenge === null ? {} : { 'www-authenticate': challenge } });
    const found = documents[request.url];
    return found === undefined ? new Response(null, { status: 404 }) : json(found);
  });
}
const urls = (seen: Request[]) => seen.map((r) => r.url);

describe('which resource_metadata is used', () => {
  const named = 'https://api.example/meta/dpop';
  const other = 'https://api.example/meta/bearer';
  const documents = { [named]: doc({ scopes_supported: ['dpop'] }), [other]: doc({ scopes_supported: ['bearer'] }) };

  it("the DPoP challenge's, wherever it is", async () => {
    const { fetch, seen } = server(`Bearer resource_metadata="${other}", DPoP algs="ES256", resource_metadata="${named}"`, documents);
    expect((await protectedResource(api, { fetch })).scopes_supported).toEqual(['dpop']);
    expect(urls(seen)).toEqual([api, named]);
  });

  it('else any other challenge that names one, also after a DPoP challenge that names none', async () => {
    for (const challenge of [`Bearer resource_metadata="${other}"`, `DPoP algs="ES256", Bearer resource_metadata="${other}"`]) {
      const { fetch, seen } = server(challenge, documents);
      expect((await protectedResource(api, { fetch })).scopes_supported, challenge).toEqual(['bearer']);
      expect(urls(seen)).toEqual([api, other]);
    }
  });

  it('only from a 401: a 403 naming one is not followed', async () => {
    const { fetch, seen } = server(`DPoP resource_metadata="${named}"`, { ...documents, [WELL_KNOWN]: doc() }, 403);
    await protectedResource(api, { fetch });
    expect(urls(seen)).toEqual([api, `${WELL_KNOWN}/v1/things`, WELL_KNOWN]);
  });

  it('one that is no usable URL is named in the error when no document is found', async () => {
    const { fetch } = server('DPoP resource_metadata="http://api.example/meta"', {});
    expect(await caught(() => protectedResource(api, { fetch }))).toMatchObject({
      code: 'ERR_DISCOVERY',
      message: expect.stringContaining(`${api} answered HTTP 401 without a token, naming a resource_metadata that is not an https: URL`),
    });
  });

  it('an API at the root of its origin: one well-known URL', async () => {
    const root = recordingFetch((request) => (request.url === WELL_KNOWN ? json(doc({ resource: 'https://api.example/' })) : new Response(null, { status: 401 })));
    expect((await protectedResource('https://api.example/', { fetch: root.fetch })).resource).toBe('https://api.example/');
    expect(urls(root.seen)).toEqual(['https://api.example/', WELL_KNOWN]);
  });
});

describe('what the document must hold', () => {
  const refused = async (body: Record<string, unknown>) => caught(() => protectedResource(api, { fetch: server(null, { [WELL_KNOWN]: body }).fetch }));

  it('a resource that is a URL covering the API: the very path, or a prefix of it on a segment boundary', async () => {
    for (const resource of [api, 'https://api.example/v1', 'https://api.example/v1/', 'https://api.example']) {
      expect((await protectedResource(api, { fetch: server(null, { [WELL_KNOWN]: doc({ resource }) }).fetch })).resource).toBe(resource);
    }
    expect(await refused(doc({ resource: undefined }))).toMatchObject({
      code: 'ERR_DISCOVERY',
      message: `The "resource" in the protected resource metadata at ${WELL_KNOWN} is not a string. Fix the server's metadata.`,
    });
    const long = `https://other.example/${'a'.repeat(300)}`;
    const err = await refused(doc({ resource: long }));
    expect(err.message).toContain(`is for ${long.slice(0, 200)}, which does not cover ${api}`);
  });

  it('authorization_servers, when present, a list of non-empty strings', async () => {
    const servers = async (authorization_servers: unknown) =>
      (await protectedResource(api, { fetch: server(null, { [WELL_KNOWN]: doc({ authorization_servers }) }).fetch })).authorization_servers;
    expect(await servers([])).toEqual([]);
    expect(await servers(undefined)).toBeUndefined();
    for (const bad of ['https://as.example', ['https://as.example', ''], ['https://as.example', 7]]) {
      expect(await refused(doc({ authorization_servers: bad })), JSON.stringify(bad)).toMatchObject({
        code: 'ERR_DISCOVERY',
        message: `The "authorization_servers" in the protected resource metadata at ${WELL_KNOWN} is not a list of issuers. Fix the server's metadata.`,
      });
    }
  });

  it('frozen, down to its lists and objects; other members as sent', async () => {
    const rs = await protectedResource(api, { fetch: server(null, { [WELL_KNOWN]: doc({ jwks: { keys: [] }, resource_name: 'Things', n: null }) }).fetch });
    expect(rs).toMatchObject({ resource_name: 'Things', n: null });
    expect([rs, rs.authorization_servers, rs.jwks].every((value) => Object.isFrozen(value))).toBe(true);
  });
});

describe('the probe without a token', () => {
  it("carries the caller's signal, and none when there is none; a probe whose answer has no body is fine", async () => {
    const inits: (RequestInit | undefined)[] = [];
    const send = (async (input: RequestInfo | URL, init?: RequestInit) => {
      inits.push(init);
      return String(input) === WELL_KNOWN ? json(doc()) : new Response(null, { status: 401 });
    }) as typeof fetch;
    const signal = new AbortController().signal;
    await protectedResource(api, { fetch: send, signal });
    await protectedResource(api, { fetch: send });
    expect(inits[0]).toMatchObject({ redirect: 'manual', signal });
    expect(inits.filter((init) => init && 'signal' in init)).toHaveLength(3); // the probe and 2 documents, once
  });

  it('an answer whose body cannot be cancelled changes nothing', async () => {
    const stuck = () => new ReadableStream({ cancel: () => Promise.reject(new Error('cannot cancel')) });
    const send = (async (input: RequestInfo | URL) => (String(input) === WELL_KNOWN ? json(doc()) : new Response(stuck(), { status: 401 }))) as typeof fetch;
    expect((await protectedResource(api, { fetch: send })).resource).toBe('https://api.example/v1');
  });

  it('a connection that fails: ERR_DISCOVERY naming the API', async () => {
    const down = (() => Promise.reject(new TypeError('fetch failed'))) as typeof fetch;
    expect(await caught(() => protectedResource(api, { fetch: down }))).toMatchObject({ code: 'ERR_DISCOVERY', message: `The connection to ${api} failed. Check the URL and the network.` });
  });
});

describe('the probe over real HTTP', () => {
  let rs: FaultServer;
  beforeEach(async () => {
    rs = await startFaultServer();
  });
  afterEach(() => rs.close());

  it('a redirect is not followed: the 401 behind it, naming other metadata, is never asked for', async () => {
    rs.on('/api', (ctx) => sendJson(ctx.res, 302, '', { location: '/elsewhere' }));
    rs.on('/elsewhere', (ctx) => sendJson(ctx.res, 401, '', { 'www-authenticate': `DPoP resource_metadata="${rs.url('/impostor')}"` }));
    rs.on('/impostor', (ctx) => sendJson(ctx.res, 200, { resource: `${rs.origin}/elsewhere` }));
    rs.on('/.well-known/oauth-protected-resource', (ctx) => sendJson(ctx.res, 200, { resource: rs.origin }));
    expect((await protectedResource(rs.url('/api'))).resource).toBe(rs.origin);
    expect(rs.requests.map((r) => `${r.path}`)).toEqual(['/api', '/.well-known/oauth-protected-resource/api', '/.well-known/oauth-protected-resource']);
  });
});
