// Discovery against servers whose metadata lies, misleads, moves or is missing: the
// `dpop-fetch/discovery` client-credentials source, driven through createDPoPFetch over real
// HTTP (node:http fault servers on 127.0.0.1 posing as authorization server, impostor and API).
// Each case asserts the documented outcome, counts what reached every server, and checks that
// no secret reached any error. Test names read "case → outcome" (e2e/fault-table.mjs).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDPoPFetch, generateKeyPair, type DPoPError } from '../../src/index.ts';
import { clientCredentials, discover, type ClientCredentialsOptions } from '../../src/discovery.ts';
import { newToken, sendJson, startFaultServer, verifyProofOf, type FaultServer, type Handler } from '../support/fault-server.ts';
import { expectNoSecrets, failOnUnhandledRejections } from '../support/leaks.ts';

failOnUnhandledRejections();

const SECRET = `cs-${crypto.randomUUID()}+/&`;
const keyPair = await generateKeyPair();
const AS_PATH = '/.well-known/oauth-authorization-server';
const OIDC_PATH = '/.well-known/openid-configuration';
const RS_PATH = '/.well-known/oauth-protected-resource';

let as: FaultServer; // the authorization server
let rs: FaultServer; // the API
let other: FaultServer; // an impostor, or a place nothing may reach

beforeEach(async () => {
  [as, rs, other] = await Promise.all([startFaultServer(), startFaultServer(), startFaultServer()]);
  as.on('/token', tokenOk);
  rs.on('/api', apiOk);
});
afterEach(() => Promise.all([as.close(), rs.close(), other.close()]));

const tokenOk: Handler = async (ctx) => {
  await verifyProofOf(ctx.request);
  sendJson(ctx.res, 200, { access_token: newToken(), token_type: 'DPoP', expires_in: 300 });
};
/** Accepts any DPoP token with a proof jose verifies; without one, a 401 that may name the metadata. */
function apiHandler(resourceMetadata?: string): Handler {
  return async (ctx) => {
    if (!ctx.request.headers.authorization) {
      const params = resourceMetadata ? `DPoP algs="ES256", resource_metadata="${resourceMetadata}"` : 'DPoP algs="ES256"';
      sendJson(ctx.res, 401, '', { 'www-authenticate': params });
      return;
    }
    await verifyProofOf(ctx.request);
    sendJson(ctx.res, 200, { ok: true });
  };
}
const apiOk = apiHandler();

/** Metadata `server` serves for itself (no-store: never reused by a later test on the same port). */
function metadata(server: FaultServer, extra: Record<string, unknown> = {}) {
  return { issuer: server.origin, token_endpoint: server.url('/token'), token_endpoint_auth_methods_supported: ['client_secret_post'], dpop_signing_alg_values_supported: ['ES256'], ...extra };
}
const serve = (body: unknown, status = 200, headers: Record<string, string> = {}): Handler => (ctx) => sendJson(ctx.res, status, body, headers);

function api(options: Partial<ClientCredentialsOptions> = {}) {
  return createDPoPFetch({ keyPair, tokens: clientCredentials({ issuer: as.origin, clientId: 'app', clientSecret: SECRET, scope: 'api', ...options }) });
}

/** The error a call rejects with, checked for secrets. */
async function fails(promise: Promise<unknown>): Promise<DPoPError> {
  const err = await promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${value instanceof Response ? `HTTP ${value.status}` : String(value)}`);
    },
    (e: unknown) => e,
  );
  expectNoSecrets(err, [SECRET]);
  return err as DPoPError;
}

describe('authorization server metadata (RFC 8414, OpenID Connect Discovery)', () => {
  it('metadata whose issuer has a trailing slash the issuer given lacks → ERR_DISCOVERY naming both; no token request', async () => {
    as.on(AS_PATH, serve(metadata(as, { issuer: `${as.origin}/` })));
    const err = await fails(api()(rs.url('/api')));
    expect(err).toMatchObject({ code: 'ERR_DISCOVERY', name: 'DPoPError' });
    expect(err.message).toContain(`names "${as.origin}/", not the issuer asked for, "${as.origin}"`);
    expect(err.message).toContain('RFC 8414 §3.3');
    expect(as.count('/token') + rs.count()).toBe(0);
    expect(as.count(OIDC_PATH)).toBe(0); // a document for another issuer is not a reason to look elsewhere
  });

  it("another server's metadata, copied by an impostor → ERR_DISCOVERY (the mix-up defence); the token endpoint it names receives nothing", async () => {
    // The impostor serves the real server's document, so that a client trusting it would send
    // its credentials where the impostor says, believing it talks to the real issuer.
    other.on(AS_PATH, serve(metadata(as, { token_endpoint: other.url('/token') })));
    other.on('/token', tokenOk);
    const err = await fails(createDPoPFetch({ keyPair, tokens: clientCredentials({ issuer: other.origin, clientId: 'app', clientSecret: SECRET }) })(rs.url('/api')));
    expect(err.code).toBe('ERR_DISCOVERY');
    expect(err.message).toContain(`names "${as.origin}", not the issuer asked for, "${other.origin}"`);
    expect(other.count('/token') + as.count()).toBe(0);
  });

  it('dpop_signing_alg_values_supported: ["RS256", "PS256"] → ERR_DISCOVERY naming RS256, PS256 and asking for ES256; no token request', async () => {
    as.on(AS_PATH, serve(metadata(as, { dpop_signing_alg_values_supported: ['RS256', 'PS256'] })));
    const err = await fails(api()(rs.url('/api')));
    expect(err.code).toBe('ERR_DISCOVERY');
    expect(err.message).toBe(`The authorization server ${as.origin} accepts DPoP proofs signed with RS256, PS256 (dpop_signing_alg_values_supported), not ES256, the only algorithm dpop-fetch signs with. Enable ES256 for DPoP at the server.`);
    expect(as.count('/token')).toBe(0);
  });

  it('RFC 8414 URL answers 404, the OpenID Connect one has the metadata → used: two metadata requests, then the token and the API', async () => {
    as.on(OIDC_PATH, serve(metadata(as)));
    const res = await api()(rs.url('/api'));
    expect(res.status).toBe(200);
    expect(as.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${AS_PATH}`, `GET ${OIDC_PATH}`, 'POST /token']);
    expect(as.requests[0]!.headers.accept).toBe('application/json');
  });

  it('both well-known URLs answer 404 → ERR_DISCOVERY naming each URL and what it answered', async () => {
    const err = await fails(api()(rs.url('/api')));
    expect(err.code).toBe('ERR_DISCOVERY');
    expect(err.message).toContain(`${as.url(AS_PATH)} answered HTTP 404; ${as.url(OIDC_PATH)} answered HTTP 404`);
  });

  it('metadata redirected (302) to another origin → never followed: ERR_DISCOVERY; the other origin receives nothing', async () => {
    const away: Handler = (ctx) => void ctx.res.writeHead(302, { location: other.url(AS_PATH) }).end();
    as.on(AS_PATH, away);
    as.on(OIDC_PATH, away);
    other.on(AS_PATH, serve(metadata(as)));
    const err = await fails(api()(rs.url('/api')));
    expect(err.message).toContain('a redirect (HTTP 302), which is never followed');
    expect(other.count()).toBe(0);
  });

  it('metadata as text/html, or a JSON array → not metadata: ERR_DISCOVERY saying which', async () => {
    as.on(AS_PATH, (ctx) => void ctx.res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'));
    as.on(OIDC_PATH, serve([metadata(as)]));
    const err = await fails(api()(rs.url('/api')));
    expect(err.message).toContain('answered content-type text/html, not application/json');
    expect(err.message).toContain('answered no JSON object of at most 1 MiB');
  });

  it('a metadata body of more than 1 MiB, valid JSON otherwise → ERR_DISCOVERY ("no JSON object of at most 1 MiB"), the rest left unread', async () => {
    const huge = JSON.stringify({ ...metadata(as), padding: 'x'.repeat(2 << 20) });
    as.on(AS_PATH, serve(huge));
    as.on(OIDC_PATH, serve(huge));
    const err = await fails(api()(rs.url('/api')));
    expect(err.message).toContain(`${as.url(AS_PATH)} answered no JSON object of at most 1 MiB`);
  });

  it('the issuer does not answer at all → ERR_DISCOVERY with the network error as cause', async () => {
    const gone = as.origin;
    await as.close();
    const err = await fails(createDPoPFetch({ keyPair, tokens: clientCredentials({ issuer: gone, clientId: 'app', clientSecret: SECRET }) })(rs.url('/api')));
    expect(err.code).toBe('ERR_DISCOVERY');
    expect(err.message).toBe(`The connection to ${gone}${AS_PATH} failed. Check the URL and the network.`);
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it('token_endpoint http: on a host that is not loopback → ERR_DISCOVERY; with allowInsecureHttp the same metadata is accepted', async () => {
    as.on(AS_PATH, serve(metadata(as, { token_endpoint: 'http://as.example/token' })));
    const err = await fails(api()(rs.url('/api')));
    expect(err.message).toBe(`The token_endpoint in the metadata of ${as.origin} is not an https: URL (http: only on a loopback host, or with allowInsecureHttp: true). Fix the server's metadata.`);
    expect(await fails(discover(as.origin))).toMatchObject({ code: 'ERR_DISCOVERY' });
    expect((await discover(as.origin, { allowInsecureHttp: true })).token_endpoint).toBe('http://as.example/token');
  });

  it('token_endpoint with credentials in it (https://user:pw@…) → ERR_DISCOVERY, the credentials in no message', async () => {
    as.on(AS_PATH, serve(metadata(as, { token_endpoint: `https://app:${encodeURIComponent(SECRET)}@as.example/token` })));
    const err = await fails(api()(rs.url('/api')));
    expect(err.message).toContain('carries credentials');
    expectNoSecrets(err, [encodeURIComponent(SECRET)]);
  });

  it('metadata without a token_endpoint → ERR_DISCOVERY "names no token_endpoint"', async () => {
    as.on(AS_PATH, serve(metadata(as, { token_endpoint: undefined })));
    const err = await fails(api()(rs.url('/api')));
    expect(err.message).toBe(`The authorization server ${as.origin} names no token_endpoint in its metadata. Pass the endpoint yourself.`);
  });

  it('token_endpoint_auth_methods_supported: ["private_key_jwt"] and a client secret → ERR_DISCOVERY naming the list; the secret goes nowhere', async () => {
    as.on(AS_PATH, serve(metadata(as, { token_endpoint_auth_methods_supported: ['private_key_jwt'] })));
    const err = await fails(api()(rs.url('/api')));
    expect(err.message).toContain('takes client authentication by private_key_jwt (token_endpoint_auth_methods_supported), and the credential given fits only client_secret_post or client_secret_basic');
    expect(as.count('/token')).toBe(0);
  });

  it('token endpoint unreachable, the metadata now names a new one → the metadata is fetched once more and the token asked there: HTTP 200', async () => {
    let moved = false;
    as.on(AS_PATH, (ctx) => sendJson(ctx.res, 200, metadata(as, { token_endpoint: moved ? as.url('/token') : other.url('/token') })));
    const gone = other.url('/token');
    await other.close(); // the old endpoint no longer answers
    const fetchThenMove: typeof fetch = async (input, init) => {
      try {
        return await fetch(input, init);
      } catch (err) {
        if (String(input) === gone) moved = true; // the server moved while the request failed
        throw err;
      }
    };
    const res = await createDPoPFetch({ keyPair, fetch: fetchThenMove, tokens: clientCredentials({ issuer: as.origin, clientId: 'app', clientSecret: SECRET }) })(rs.url('/api'));
    expect(res.status).toBe(200);
    expect(as.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${AS_PATH}`, `GET ${AS_PATH}`, 'POST /token']);
  });

  it('token endpoint unreachable, the metadata unchanged → ERR_TOKEN_NETWORK after one more metadata request; the token request is not sent twice', async () => {
    as.on(AS_PATH, serve(metadata(as, { token_endpoint: other.url('/token') })));
    await other.close();
    let sent = 0;
    const counting: typeof fetch = (input, init) => (String(input) === other.url('/token') && sent++, fetch(input, init));
    const err = await fails(createDPoPFetch({ keyPair, fetch: counting, tokens: clientCredentials({ issuer: as.origin, clientId: 'app', clientSecret: SECRET }) })(rs.url('/api')));
    expect(err.code).toBe('ERR_TOKEN_NETWORK');
    expect(as.count(AS_PATH)).toBe(2);
    expect(sent).toBe(1);
  });
});

describe('protected resource metadata (RFC 9728), from the API URL only', () => {
  const fromApi = () => createDPoPFetch({ keyPair, tokens: clientCredentials({ clientId: 'app', clientSecret: SECRET, scope: 'api' }) });
  const resource = (extra: Record<string, unknown> = {}) => ({ resource: rs.url('/'), authorization_servers: [as.origin], ...extra });

  it('the API names metadata for a resource on another origin → ERR_DISCOVERY; no authorization server is asked', async () => {
    rs.on('/api', apiHandler(rs.url(RS_PATH)));
    rs.on(RS_PATH, serve(resource({ resource: other.url('/') })));
    as.on(AS_PATH, serve(metadata(as)));
    const err = await fails(fromApi()(rs.url('/api')));
    expect(err.message).toContain(`is for ${other.url('/')}, which does not cover ${rs.url('/api')}`);
    expect(as.count()).toBe(0);
  });

  it('resource /api/dpop/te for the URL /api/dpop/test, a prefix but not on a segment boundary → ERR_DISCOVERY; /api/dpop covers it', async () => {
    rs.on('/api/dpop/test', apiHandler(rs.url(RS_PATH)));
    rs.on(RS_PATH, serve(resource({ resource: rs.url('/api/dpop/te') })));
    as.on(AS_PATH, serve(metadata(as)));
    const err = await fails(fromApi()(rs.url('/api/dpop/test')));
    expect(err.message).toContain('does not cover');
    rs.on(RS_PATH, serve(resource({ resource: rs.url('/api/dpop') })));
    expect((await fromApi()(rs.url('/api/dpop/test'))).status).toBe(200);
    // The token was asked for the resource the metadata names (RFC 8707).
    expect(new URLSearchParams(as.requests.find((r) => r.path === '/token')!.body).getAll('resource')).toEqual([rs.url('/api/dpop')]);
  });

  it('the API metadata names no authorization_servers → ERR_DISCOVERY saying so', async () => {
    rs.on('/api', apiHandler(rs.url(RS_PATH)));
    rs.on(RS_PATH, serve({ resource: rs.url('/') }));
    const err = await fails(fromApi()(rs.url('/api')));
    expect(err.message).toBe(`The protected resource ${rs.url('/')} names no authorization server (authorization_servers). Pass issuer or tokenEndpoint.`);
  });

  it('authorization_servers[0] is an http: URL on a host that is not loopback → ERR_DISCOVERY; nothing is fetched from it', async () => {
    rs.on('/api', apiHandler(rs.url(RS_PATH)));
    rs.on(RS_PATH, serve(resource({ authorization_servers: ['http://as.example'] })));
    const err = await fails(fromApi()(rs.url('/api')));
    expect(err.message).toContain('names an authorization server that is not an issuer');
  });

  it('the API metadata lists dpop_signing_alg_values_supported without ES256 → ERR_DISCOVERY', async () => {
    rs.on('/api', apiHandler(rs.url(RS_PATH)));
    rs.on(RS_PATH, serve(resource({ dpop_signing_alg_values_supported: ['EdDSA'] })));
    const err = await fails(fromApi()(rs.url('/api')));
    expect(err.message).toContain(`The protected resource ${rs.url('/')} accepts DPoP proofs signed with EdDSA`);
  });

  it('resource_metadata in the 401 is a javascript: URL → ignored; the well-known URLs are tried and used', async () => {
    rs.on('/api', apiHandler('javascript:alert(1)'));
    rs.on(RS_PATH, serve(resource()));
    as.on(AS_PATH, serve(metadata(as)));
    expect((await fromApi()(rs.url('/api'))).status).toBe(200);
    expect(rs.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api', `GET ${RS_PATH}/api`, `GET ${RS_PATH}`, 'GET /api']);
  });

  it('the API answers 200 without a token and serves no metadata → ERR_DISCOVERY naming each URL tried', async () => {
    rs.on('/open', serve({ public: true }));
    const err = await fails(fromApi()(rs.url('/open')));
    expect(err.message).toBe(
      `Found no protected resource metadata (RFC 9728) for ${rs.url('/open')}: ${rs.url('/open')} answered HTTP 200 without a token and named no resource_metadata; ${rs.url(`${RS_PATH}/open`)} answered HTTP 404; ${rs.url(RS_PATH)} answered HTTP 404. Pass issuer or tokenEndpoint.`,
    );
  });
});
