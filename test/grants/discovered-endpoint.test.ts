// Where the token requests of dpop-fetch/discovery go (src/grants/discovered-endpoint.ts),
// without a server: the client authentication picked from the metadata (pickAuthMethod), the
// options refused before any request, and what happens when the token endpoint gets no answer,
// against an in-process fake authorization server passed as `fetch`. What oidc-provider accepts
// with the methods picked is in discovered.peers.test.ts.
import { describe, expect, it } from 'vitest';
import { clientCredentials } from '../../src/discovery.ts';
import { generateKeyPair, type TokenContext } from '../../src/index.ts';
import { createClock } from '../../src/clock.ts';
import { createNonceCache } from '../../src/nonce.ts';
import { pickAuthMethod } from '../../src/grants/discovered-endpoint.ts';
import { caught, recordingFetch } from '../helpers.ts';

const keyPair = await generateKeyPair();
const assertionKey = await generateKeyPair();

describe('pickAuthMethod: the client authentication when authMethod is not given', () => {
  const metadata = (listed?: unknown) => ({ issuer: 'https://as.example', ...(listed === undefined ? {} : { token_endpoint_auth_methods_supported: listed }) }) as never;
  const secret = { clientId: 'app', clientSecret: 's' };
  const key = { clientId: 'app', clientAssertionKey: assertionKey };
  const pub = { clientId: 'spa' };

  it('authMethod given, or no metadata → as given (undefined: the main entry point\'s default)', () => {
    expect(pickAuthMethod({ ...secret, authMethod: 'client_secret_basic' }, metadata(['client_secret_post']))).toBe('client_secret_basic');
    expect(pickAuthMethod(secret, undefined)).toBeUndefined();
  });

  it('nothing listed (or not a list of strings) → client_secret_basic for a secret (RFC 8414 §2), private_key_jwt for a key, none for a public client', () => {
    for (const listed of [undefined, 'client_secret_post', [1]]) {
      expect(pickAuthMethod(secret, metadata(listed))).toBe('client_secret_basic');
      expect(pickAuthMethod(key, metadata(listed))).toBe('private_key_jwt');
      expect(pickAuthMethod(pub, metadata(listed))).toBe('none');
    }
  });

  it('a secret → client_secret_post when listed, whatever the order; else client_secret_basic when listed', () => {
    expect(pickAuthMethod(secret, metadata(['client_secret_basic', 'client_secret_post']))).toBe('client_secret_post');
    expect(pickAuthMethod(secret, metadata(['private_key_jwt', 'client_secret_basic']))).toBe('client_secret_basic');
  });

  it('a public client → none, even when the list names only methods with a credential', () => {
    expect(pickAuthMethod(pub, metadata(['client_secret_basic']))).toBe('none');
    expect(pickAuthMethod(pub, metadata([]))).toBe('none');
  });

  it('a credential that fits nothing listed → ERR_DISCOVERY naming what is listed (10 at most, or "no method") and what the credential fits', () => {
    const refusal = (options: object, listed: unknown) => {
      try {
        pickAuthMethod(options as never, metadata(listed));
      } catch (err) {
        return err as any;
      }
      throw new Error('expected a refusal');
    };
    const many = Array.from({ length: 12 }, (_, i) => `m${i}`);
    const err = refusal(secret, many);
    expect(err.code).toBe('ERR_DISCOVERY');
    expect(err.message).toBe(
      `The authorization server https://as.example takes client authentication by ${many.slice(0, 10).join(', ')} (token_endpoint_auth_methods_supported), and the credential given fits only client_secret_post or client_secret_basic. Give the credential of a method it lists, or set authMethod.`,
    );
    expect(refusal(key, ['client_secret_basic']).message).toContain('by client_secret_basic (token_endpoint_auth_methods_supported), and the credential given fits only private_key_jwt.');
    expect(refusal(secret, []).message).toContain('takes client authentication by no method (token_endpoint_auth_methods_supported)');
  });
});

describe('the token endpoint gets no answer', () => {
  /** A fake server whose metadata names `/token-N`, N the count of metadata requests so far (or always /token with `fixed`). */
  function server(tokenAnswer: (n: number) => Response | Promise<Response>, { fixed = false, metadataFails = false } = {}) {
    const issuer = `https://as-${crypto.randomUUID()}.example`;
    let metadata = 0;
    const as = recordingFetch(async (request) => {
      if (request.url.endsWith('/.well-known/oauth-authorization-server')) {
        metadata += 1;
        if (metadataFails && metadata > 1) throw new TypeError('fetch failed');
        return Response.json({ issuer, token_endpoint: `${issuer}/token${fixed ? '' : `-${metadata}`}`, token_endpoint_auth_methods_supported: ['client_secret_post'] });
      }
      return tokenAnswer(as.seen.filter((r) => r.url.includes('/token')).length);
    });
    return { issuer, ...as };
  }
  const contextFor = (fetch: typeof globalThis.fetch): TokenContext => ({ keyPair, fetch, nonces: createNonceCache(), clock: createClock(), requireDPoP: true });
  const down = async () => Promise.reject(new TypeError('fetch failed'));
  const token = () => Response.json({ access_token: 'at-1', token_type: 'DPoP', expires_in: 60 });
  const paths = (seen: Request[]) => seen.map((r) => new URL(r.url).pathname);

  it('the metadata, read again, names another token endpoint → the request is sent there once', async () => {
    const as = server((n) => (n === 1 ? down() : token()));
    const got = await clientCredentials({ issuer: as.issuer, clientId: 'app', clientSecret: 's' }).getToken(contextFor(as.fetch));
    expect(got.accessToken).toBe('at-1');
    expect(paths(as.seen)).toEqual(['/.well-known/oauth-authorization-server', '/token-1', '/.well-known/oauth-authorization-server', '/token-2']);
  });

  it('the token endpoint refuses (invalid_grant) → an answer, so the metadata is not read again; one token request', async () => {
    const as = server(() => Response.json({ error: 'invalid_grant' }, { status: 400 }));
    const err = await caught(() => clientCredentials({ issuer: as.issuer, clientId: 'app', clientSecret: 's' }).getToken(contextFor(as.fetch)));
    expect(err.error).toBe('invalid_grant');
    expect(paths(as.seen)).toEqual(['/.well-known/oauth-authorization-server', '/token-1']);
  });

  it('the metadata names the same endpoint, or cannot be read again → ERR_TOKEN_NETWORK, and the request is not sent twice', async () => {
    for (const options of [{ fixed: true }, { metadataFails: true }]) {
      const as = server(down, options);
      const err = await caught(() => clientCredentials({ issuer: as.issuer, clientId: 'app', clientSecret: 's' }).getToken(contextFor(as.fetch)));
      expect(err.code).toBe('ERR_TOKEN_NETWORK');
      expect(paths(as.seen).filter((p) => p.startsWith('/token'))).toHaveLength(1);
      expect(paths(as.seen).filter((p) => p.startsWith('/.well-known'))).toHaveLength(2);
    }
  });
});

describe('nothing but the API URL (RFC 9728)', () => {
  const API = 'https://api.example/v1/things';
  const META = 'https://api.example/meta';
  const ISSUER = 'https://as.example';
  /** A fake API, its metadata naming `servers`, and an authorization server; `up` says whether the API answers at all. */
  function world(servers: unknown = [ISSUER]) {
    const state = { up: true };
    const as = recordingFetch(async (request) => {
      if (!state.up) throw new TypeError('fetch failed');
      if (request.url === API) return new Response(null, { status: 401, headers: { 'www-authenticate': `DPoP algs="ES256", resource_metadata="${META}"` } });
      if (request.url === META) return Response.json({ resource: 'https://api.example/v1', authorization_servers: servers });
      if (request.url === `${ISSUER}/.well-known/oauth-authorization-server`) return Response.json({ issuer: ISSUER, token_endpoint: `${ISSUER}/token` });
      if (request.url === `${ISSUER}/token`) return Response.json({ access_token: 'at-1', token_type: 'DPoP', expires_in: 60 });
      return new Response(null, { status: 404 });
    });
    return { ...as, state };
  }
  const contextFor = (fetch: typeof globalThis.fetch): TokenContext => ({ keyPair, fetch, nonces: createNonceCache(), clock: createClock(), requireDPoP: true, url: API });
  const tokenForms = async (seen: Request[]) => Promise.all(seen.filter((r) => r.url === `${ISSUER}/token`).map(async (r) => new URLSearchParams(await r.clone().text())));

  it('two token requests → each asks for the API as resource exactly once (the form is not changed for the next one)', async () => {
    const w = world();
    const tokens = clientCredentials({ clientId: 'app', clientSecret: 's', authMethod: 'client_secret_post' });
    await tokens.getToken(contextFor(w.fetch));
    await tokens.getToken(contextFor(w.fetch));
    const forms = await tokenForms(w.seen);
    expect(forms.map((f) => f.getAll('resource'))).toEqual([['https://api.example/v1'], ['https://api.example/v1']]);
    expect(w.seen.filter((r) => r.url === META)).toHaveLength(1); // the API's metadata is found once per source
  });

  it('the lookup fails (the API unreachable) → not kept: the next token request looks again and gets its token', async () => {
    const w = world();
    const tokens = clientCredentials({ clientId: 'app', clientSecret: 's', authMethod: 'client_secret_post' });
    w.state.up = false;
    expect(await caught(() => tokens.getToken(contextFor(w.fetch)))).toMatchObject({ code: 'ERR_DISCOVERY' });
    w.state.up = true;
    expect((await tokens.getToken(contextFor(w.fetch))).accessToken).toBe('at-1');
  });

  it('authorization_servers[0] is not an issuer → ERR_DISCOVERY naming the member and why', async () => {
    const w = world(['https://as.example/?tenant=1']);
    const err = await caught(() => clientCredentials({ clientId: 'app', clientSecret: 's' }).getToken(contextFor(w.fetch)));
    expect(err.code).toBe('ERR_DISCOVERY');
    expect(err.message).toMatch(/^The protected resource https:\/\/api\.example\/v1 names an authorization server that is not an issuer \("authorization_servers\[0\]" /);
  });
});
