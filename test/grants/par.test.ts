// Where authorizationCode.start of dpop-fetch/discovery sends the browser, and its pushed
// request (src/grants/par.ts), against an in-process fake server passed as `fetch`: which
// requests are made for which options, the checks of the options, and the push's answers that
// are refused (RFC 9126 §2.2). oidc-provider's PAR endpoint is in par.peers.test.ts.
import { describe, expect, it } from 'vitest';
import { authorizationCode } from '../../src/discovery.ts';
import { generateKeyPair } from '../../src/index.ts';
import { caught } from '../helpers.ts';

const keyPair = await generateKeyPair();
const REDIRECT = 'https://app.example/cb';

/**
 * A fake authorization server at a new origin per call (the metadata cache is per issuer): its
 * metadata, and a PAR endpoint that answers `push` (by default 201 with a request_uri).
 */
function server(push: () => Response = () => Response.json({ request_uri: 'urn:example:r1', expires_in: 60 }, { status: 201 }), metadata: Record<string, unknown> = {}) {
  const issuer = `https://as-${crypto.randomUUID()}.example`;
  const seen: string[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    seen.push(`${request.method} ${request.url}`);
    if (request.url === `${issuer}/.well-known/oauth-authorization-server`) {
      return Response.json({ issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, pushed_authorization_request_endpoint: `${issuer}/par`, ...metadata });
    }
    if (request.url.startsWith(`${issuer}/par`)) return push();
    return new Response(null, { status: 404 });
  }) as typeof globalThis.fetch;
  return { issuer, fetch, seen };
}

const start = (options: Record<string, unknown>) => authorizationCode.start({ clientId: 'spa', redirectUri: REDIRECT, keyPair, ...options } as never);

describe('which requests start makes', () => {
  it('issuer and authorizationEndpoint given, no par → no request at all: the browser goes to the endpoint given with the whole query', async () => {
    const as = server();
    const login = await start({ issuer: as.issuer, authorizationEndpoint: 'https://login.example/authorize', fetch: as.fetch });
    expect(as.seen).toEqual([]);
    expect(new URL(login.url).origin).toBe('https://login.example');
    expect(new URL(login.url).searchParams.get('code_challenge_method')).toBe('S256');
  });

  it('issuer and authorizationEndpoint given, par: true → the metadata is read for where to push, and the browser goes to the endpoint given with client_id and request_uri', async () => {
    const as = server();
    const login = await start({ issuer: as.issuer, authorizationEndpoint: 'https://login.example/authorize', par: true, fetch: as.fetch });
    expect(as.seen).toEqual([`GET ${as.issuer}/.well-known/oauth-authorization-server`, `POST ${as.issuer}/par`]);
    expect(login.url).toBe('https://login.example/authorize?client_id=spa&request_uri=urn%3Aexample%3Ar1');
  });

  it('issuer only, metadata requires PAR → metadata, then the push; without it → metadata only', async () => {
    const required = server(undefined, { require_pushed_authorization_requests: true });
    expect(new URL((await start({ issuer: required.issuer, fetch: required.fetch })).url).searchParams.get('request_uri')).toBe('urn:example:r1');
    expect(required.seen).toEqual([`GET ${required.issuer}/.well-known/oauth-authorization-server`, `POST ${required.issuer}/par`]);
    const optional = server();
    expect(new URL((await start({ issuer: optional.issuer, fetch: optional.fetch })).url).searchParams.has('request_uri')).toBe(false);
    expect(optional.seen).toEqual([`GET ${optional.issuer}/.well-known/oauth-authorization-server`]);
  });
});

describe('the push answer, refused unless RFC 9126 §2.2 is met', () => {
  const refused = [
    ['HTTP 200 instead of 201', () => Response.json({ request_uri: 'urn:example:r1', expires_in: 60 })],
    ['no request_uri', () => Response.json({ expires_in: 60 }, { status: 201 })],
    ['a request_uri that is not a string', () => Response.json({ request_uri: 7, expires_in: 60 }, { status: 201 })],
    ['a request_uri starting with a space', () => Response.json({ request_uri: ' urn:example:r1', expires_in: 60 }, { status: 201 })],
    ['a request_uri ending with a line break', () => Response.json({ request_uri: 'urn:example:r1\n', expires_in: 60 }, { status: 201 })],
    ['no expires_in', () => Response.json({ request_uri: 'urn:example:r1' }, { status: 201 })],
    ['expires_in as a string', () => Response.json({ request_uri: 'urn:example:r1', expires_in: '60' }, { status: 201 })],
    ['expires_in 0', () => Response.json({ request_uri: 'urn:example:r1', expires_in: 0 }, { status: 201 })],
    ['expires_in negative', () => Response.json({ request_uri: 'urn:example:r1', expires_in: -5 }, { status: 201 })],
    ['a body that is not JSON', () => new Response('created', { status: 201 })],
  ] as const;

  it.for(refused)('%s → ERR_TOKEN_RESPONSE naming the endpoint and the status, with the response', async ([, push]) => {
    const as = server(push);
    const err = await caught(() => start({ issuer: as.issuer, par: true, fetch: as.fetch }));
    const status = (await push()).status;
    expect(err).toMatchObject({ name: 'TokenResponseError', code: 'ERR_TOKEN_RESPONSE', status });
    expect(err.message).toBe(
      `The pushed authorization request endpoint answered HTTP ${status} without a usable "request_uri" and "expires_in" (RFC 9126 §2.2). Check the pushedAuthorizationRequestEndpoint (or the server's metadata).`,
    );
    expect(err.response).toBeInstanceOf(Response);
    expect(err.response.status).toBe(status);
  });

  it('a request_uri of any printable ASCII and an expires_in of 1 → accepted as they are', async () => {
    const uri = 'urn:ietf:params:oauth:request_uri:a~b!c';
    const as = server(() => Response.json({ request_uri: uri, expires_in: 1 }, { status: 201 }));
    expect(new URL((await start({ issuer: as.issuer, par: true, fetch: as.fetch })).url).searchParams.get('request_uri')).toBe(uri);
  });
});

describe('the options checked before any request', () => {
  const refusal = (code: string, message: string) => expect.objectContaining({ name: 'TypeError', code, message });

  it('each names its option', async () => {
    const as = server();
    for (const options of [42, null, undefined]) await expect(authorizationCode.start(options as never)).rejects.toEqual(refusal('ERR_INVALID_ARG_TYPE', '"options" must be an object'));
    await expect(start({ issuer: 42 })).rejects.toEqual(refusal('ERR_INVALID_ARG_TYPE', '"options.issuer" must be a string'));
    await expect(start({ authorizationEndpoint: 'https://login.example/a', pushedAuthorizationRequestEndpoint: 'http://as.example/par' })).rejects.toEqual(
      refusal('ERR_INVALID_ARG_VALUE', expect.stringContaining('"options.pushedAuthorizationRequestEndpoint" must be an https: URL')),
    );
    await expect(start({ issuer: as.issuer, fetch: 'fetch' })).rejects.toEqual(refusal('ERR_INVALID_ARG_TYPE', '"options.fetch" must be a function'));
    for (const signal of [{ aborted: false }, new AbortController()]) {
      await expect(start({ issuer: as.issuer, fetch: as.fetch, signal })).rejects.toEqual(refusal('ERR_INVALID_ARG_TYPE', '"options.signal" must be an AbortSignal'));
    }
    expect(as.seen).toEqual([]);
  });

  it('an AbortSignal is accepted; par: true with an issuer needs no pushedAuthorizationRequestEndpoint', async () => {
    const as = server();
    const login = await start({ issuer: as.issuer, par: true, fetch: as.fetch, signal: new AbortController().signal });
    expect(new URL(login.url).searchParams.get('request_uri')).toBe('urn:example:r1');
  });
});
