// createDPoPFetch against servers that misbehave: every case drives the real client over real
// HTTP (a node:http fault server on 127.0.0.1), asserts the documented outcome, counts the
// attempts at the server, and checks that no secret, token or key reached any error (message,
// cause chain, fields) or event. Proofs are verified by jose at the server on every request.
// Test names read "case → outcome": e2e/fault-table.mjs turns them into the README table.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  clientCredentials,
  createDPoPFetch,
  DPoPError,
  generateKeyPair,
  OAuthError,
  TokenResponseError,
  type ClientCredentialsOptions,
  type DPoPEvent,
  type DPoPFetchOptions,
} from '../src/index.ts';
import {
  dropBeforeResponse,
  dropMidResponse,
  newToken,
  sendJson,
  startFaultServer,
  tokenOf,
  verifyProofOf,
  type Context,
  type FaultServer,
  type Handler,
} from './support/fault-server.ts';
import { expectNoSecrets, failOnUnhandledRejections } from './support/leaks.ts';

failOnUnhandledRejections();

const SECRET = `cs-${crypto.randomUUID()}+/ &=?`;
// Extractable only so the test knows the private key's bytes and can grep for them.
const keyPair = await generateKeyPair({ extractable: true });
const privateJwk = await crypto.subtle.exportKey('jwk', keyPair.privateKey);
const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keyPair.privateKey)).toString('base64');
const staticSecrets = [
  SECRET,
  new URLSearchParams({ s: SECRET }).toString().slice(2),
  Buffer.from(`app:${new URLSearchParams({ s: SECRET }).toString().slice(2)}`).toString('base64'),
  privateJwk.d!,
  pkcs8.slice(40, 120), // the part of the PKCS#8 that holds the private scalar
];

let as: FaultServer; // authorization server (token endpoint)
let rs: FaultServer; // resource server
let other: FaultServer; // an origin that must never see the token
const issued: string[] = [];
const events: DPoPEvent[] = [];
const errors: unknown[] = [];
const responses: Response[] = [];

beforeEach(async () => {
  [as, rs, other] = await Promise.all([startFaultServer(), startFaultServer(), startFaultServer()]);
  as.on('/token', tokenOk());
  rs.on('/api', apiOk);
  issued.length = events.length = errors.length = responses.length = 0;
});

afterEach(async () => {
  expectNoSecrets({ errors, events }, [...staticSecrets, ...issued]);
  // Whatever went to the third origin, never a token or a secret.
  expectNoSecrets(other.requests, [...staticSecrets, ...issued]);
  await Promise.all([as.close(), rs.close(), other.close()]);
});

/** A token endpoint that checks the proof with jose and issues a new token. */
function tokenOk(extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Handler {
  return async (ctx) => {
    await verifyProofOf(ctx.request);
    const token = newToken();
    issued.push(token);
    sendJson(ctx.res, 200, { access_token: token, token_type: 'DPoP', expires_in: 300, ...extra }, headers);
  };
}

/** A resource that checks the proof (htu, htm, ath) with jose and accepts tokens we issued. */
async function apiOk(ctx: Context): Promise<void> {
  const proof = await verifyProofOf(ctx.request);
  if (!issued.includes(tokenOf(ctx.request) ?? '')) {
    sendJson(ctx.res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'DPoP error="invalid_token"' });
    return;
  }
  sendJson(ctx.res, 200, { ok: true, htu: proof.htu, method: ctx.request.method, body: ctx.request.body });
}

function client(options: Partial<DPoPFetchOptions> = {}, cc: Partial<ClientCredentialsOptions> = {}) {
  return createDPoPFetch({
    keyPair,
    tokens: clientCredentials({ tokenEndpoint: as.url('/token'), clientId: 'app', clientSecret: SECRET, scope: 'api', ...cc }),
    onEvent: (event) => events.push(event),
    debug: true,
    ...options,
  });
}

/** The error a promise rejects with (kept for the leak check). */
async function fails(promise: Promise<unknown>): Promise<any> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${value instanceof Response ? `HTTP ${value.status}` : String(value)}`);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('expected a rejection')) throw err;
    errors.push(err);
    return err;
  }
}

const redirect = (status: number, location: string, headers: Record<string, string> = {}): Handler => (ctx) => {
  ctx.res.writeHead(status, { location, ...headers });
  ctx.res.end();
};
const nonceDemand = (nonce: string | undefined, wwwAuthenticate = 'DPoP error="use_dpop_nonce"'): Handler => (ctx) =>
  sendJson(ctx.res, 401, { error: 'use_dpop_nonce' }, { 'www-authenticate': wwwAuthenticate, ...(nonce ? { 'dpop-nonce': nonce } : {}) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('token endpoint failures', () => {
  it.for([
    [500, '<html><body>Internal Server Error</body></html>'],
    [502, ''],
    [503, 'upstream unavailable'],
  ] as const)('token endpoint answers HTTP %i without an OAuth error → ERR_TOKEN_RESPONSE naming the status; one request, failure not cached', async ([status, body]) => {
    as.on('/token', (ctx) => void ctx.res.writeHead(status, { 'content-type': 'text/html' }).end(body));
    const api = client();
    const err = await fails(api(rs.url('/api')));
    expect(err).toBeInstanceOf(TokenResponseError);
    expect(err).toMatchObject({ code: 'ERR_TOKEN_RESPONSE', status });
    expect(err.message).toContain(`HTTP ${status} without an OAuth error`);
    expect(as.count('/token')).toBe(1);
    expect(rs.count()).toBe(0);
    as.on('/token', tokenOk());
    expect((await api(rs.url('/api'))).status).toBe(200); // the failure was not cached
    expect(as.count('/token')).toBe(2);
  });

  it('token endpoint answers 503 temporarily_unavailable with Retry-After: 30 → OAuthError ERR_OAUTH with error, status and the wait in its message', async () => {
    as.on('/token', (ctx) => sendJson(ctx.res, 503, { error: 'temporarily_unavailable' }, { 'retry-after': '30' }));
    const err = await fails(client()(rs.url('/api')));
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ code: 'ERR_OAUTH', error: 'temporarily_unavailable', status: 503 });
    expect(err.message).toContain('wait 30 seconds');
    expect(as.count('/token')).toBe(1);
  });

  it('token endpoint answers 429 with Retry-After: 7 and no JSON → ERR_TOKEN_RESPONSE that says to wait 7 seconds; not retried', async () => {
    as.on('/token', (ctx) => void ctx.res.writeHead(429, { 'retry-after': '7' }).end('slow down'));
    const err = await fails(client()(rs.url('/api')));
    expect(err).toMatchObject({ code: 'ERR_TOKEN_RESPONSE', status: 429 });
    expect(err.message).toContain('wait 7 seconds (Retry-After)');
    expect(as.count('/token')).toBe(1);
  });

  it('token endpoint sends a hostile Retry-After (text with a token in it) → not echoed into the message', async () => {
    const hostile = newToken();
    issued.push(hostile);
    as.on('/token', (ctx) => void ctx.res.writeHead(429, { 'retry-after': `later ${hostile}` }).end());
    const err = await fails(client()(rs.url('/api')));
    expect(err.code).toBe('ERR_TOKEN_RESPONSE');
    expect(err.message).not.toContain('Retry-After');
  });

  it('token endpoint fails while 50 requests wait for a token → one token request, all 50 get the same typed error; the next call asks again', async () => {
    as.on('/token', async (ctx) => (await sleep(50), void ctx.res.writeHead(500).end()));
    const api = client();
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => api(rs.url('/api'))));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as DPoPError).code === 'ERR_TOKEN_RESPONSE')).toBe(true);
    errors.push(...results.map((r) => (r as PromiseRejectedResult).reason));
    expect(as.count('/token')).toBe(1);
    await fails(api(rs.url('/api')));
    expect(as.count('/token')).toBe(2);
  });

  it('slow token endpoint and the caller aborts → AbortError at once; the token request completes alone and the next call uses its token', async () => {
    as.on('/token', async (ctx) => (await sleep(300), tokenOk()(ctx)));
    const api = client();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const err = await fails(api(rs.url('/api'), { signal: controller.signal }));
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(rs.count()).toBe(0);
    expect((await api(rs.url('/api'))).status).toBe(200);
    expect(as.count('/token')).toBe(1);
    expect(rs.count()).toBe(1);
  });

  it('token endpoint never answers → ERR_TOKEN_NETWORK "did not answer in time" once tokenTimeout runs out; one request', async () => {
    as.on('/token', () => {}); // hangs until the server closes
    const err = await fails(client({ tokenTimeout: 0.3 })(rs.url('/api')));
    expect(err).toBeInstanceOf(TokenResponseError);
    expect(err).toMatchObject({ code: 'ERR_TOKEN_NETWORK', status: 0 });
    expect(err.message).toMatch(/did not answer in time.*tokenTimeout/);
    expect(err.cause).toMatchObject({ name: 'TimeoutError' });
    expect(as.count('/token')).toBe(1);
  });

  it('token endpoint stalls in the middle of its body → ERR_TOKEN_NETWORK "stalled while reading its answer", not a JSON error', async () => {
    as.on('/token', (ctx) => void ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' }).write('{"access_token":"'));
    const err = await fails(client({ tokenTimeout: 0.3 })(rs.url('/api')));
    expect(err).toMatchObject({ code: 'ERR_TOKEN_NETWORK' });
    expect(err.message).toContain('stalled while reading its answer');
  });

  it('token endpoint drops the connection before answering → ERR_TOKEN_NETWORK with the socket error as cause; one request', async () => {
    as.on('/token', dropBeforeResponse);
    const err = await fails(client()(rs.url('/api')));
    expect(err).toMatchObject({ code: 'ERR_TOKEN_NETWORK', status: 0 });
    expect(err.message).toContain(`The connection to the token endpoint ${as.url('/token')} failed`);
    expect(err.cause).toBeInstanceOf(TypeError);
    expect(as.count('/token')).toBe(1);
  });

  it('token endpoint drops the connection mid-body → ERR_TOKEN_NETWORK "while reading its answer"; one request', async () => {
    as.on('/token', (ctx) => dropMidResponse(ctx));
    const err = await fails(client()(rs.url('/api')));
    expect(err).toMatchObject({ code: 'ERR_TOKEN_NETWORK' });
    expect(err.message).toContain('failed while reading its answer');
    expect(as.count('/token')).toBe(1);
  });
});

describe('token responses that cannot be used', () => {
  const unusable: [string, string, string | Record<string, unknown>, RegExp][] = [
    ['an HTML page with status 200', 'ERR_TOKEN_RESPONSE', '<!doctype html><title>Login</title>', /not a JSON object/],
    ['truncated JSON', 'ERR_TOKEN_RESPONSE', '{"access_token":"abc","token_type":"DP', /not a JSON object/],
    ['a JSON array', 'ERR_TOKEN_RESPONSE', '[{"access_token":"abc"}]', /not a JSON object/],
    ['JSON null', 'ERR_TOKEN_RESPONSE', 'null', /not a JSON object/],
    ['JSON without access_token', 'ERR_TOKEN_RESPONSE', { token_type: 'DPoP', expires_in: 300 }, /"access_token" is missing/],
    ['an access_token with CR LF (header injection)', 'ERR_TOKEN_RESPONSE', { access_token: 'abc\r\nx-evil: 1', token_type: 'DPoP' }, /"access_token" is missing or not a printable string/],
    ['an access_token that is a number', 'ERR_TOKEN_RESPONSE', { access_token: 12345, token_type: 'DPoP' }, /"access_token"/],
    ['a negative expires_in (-1)', 'ERR_TOKEN_RESPONSE', { access_token: 'abc', token_type: 'DPoP', expires_in: -1 }, /"expires_in" is not a non-negative number/],
    ['an expires_in that is a word ("soon")', 'ERR_TOKEN_RESPONSE', { access_token: 'abc', token_type: 'DPoP', expires_in: 'soon' }, /"expires_in"/],
    ['expires_in 1e999 (Infinity once parsed)', 'ERR_TOKEN_RESPONSE', '{"access_token":"abc","token_type":"DPoP","expires_in":1e999}', /"expires_in"/],
    ['an unknown token_type "MAC"', 'ERR_TOKEN_TYPE', { access_token: 'abc', token_type: 'MAC' }, /of type "MAC"; only DPoP and Bearer/],
    ['no token_type', 'ERR_TOKEN_TYPE', { access_token: 'abc' }, /of type missing/],
  ];
  it.for(unusable)('token endpoint returns %s → %s; the token is never sent', async ([, code, body, message]) => {
    as.on('/token', (ctx) => sendJson(ctx.res, 200, body));
    const err = await fails(client()(rs.url('/api')));
    expect(err).toBeInstanceOf(TokenResponseError);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(Object.keys(err)).not.toContain('response');
    expect(as.count('/token')).toBe(1);
    expect(rs.count()).toBe(0);
  });

  it('token_type is the access token itself → ERR_TOKEN_TYPE whose message does not repeat the token', async () => {
    const token = newToken();
    issued.push(token);
    as.on('/token', (ctx) => sendJson(ctx.res, 200, { access_token: token, token_type: token }));
    const err = await fails(client()(rs.url('/api')));
    expect(err.code).toBe('ERR_TOKEN_TYPE');
    expect(err.message).toContain('[redacted]');
  });

  it('expires_in "300" (digits in a string) → accepted as 300 seconds', async () => {
    as.on('/token', tokenOk({ expires_in: '300' }));
    expect((await client()(rs.url('/api'))).status).toBe(200);
    expect(events.find((e) => e.type === 'token')).toMatchObject({ expiresIn: 300 });
  });

  it('expires_in 1e12 (huge) → accepted, lifetime capped at 366 days, cached', async () => {
    as.on('/token', tokenOk({ expires_in: 1e12 }));
    const api = client();
    await api(rs.url('/api'));
    await api(rs.url('/api'));
    expect(events.find((e) => e.type === 'token')).toMatchObject({ expiresIn: 366 * 24 * 3600 });
    expect(as.count('/token')).toBe(1);
  });

  it('expires_in missing → token used with no known expiry, cached until the server refuses it, then renewed once', async () => {
    as.on('/token', tokenOk({ expires_in: undefined }));
    const api = client();
    expect((await api(rs.url('/api'))).status).toBe(200);
    expect((await api(rs.url('/api'))).status).toBe(200);
    expect(as.count('/token')).toBe(1);
    issued.splice(0, 1, 'revoked'); // the server forgets the first token
    expect((await api(rs.url('/api'))).status).toBe(200);
    expect(as.count('/token')).toBe(2);
    expect(events.filter((e) => e.type === 'token-rejected')).toHaveLength(1);
  });

  it('expires_in 0 → the token serves the request it was fetched for and is never cached', async () => {
    as.on('/token', tokenOk({ expires_in: 0 }));
    const api = client();
    expect((await api(rs.url('/api'))).status).toBe(200);
    expect((await api(rs.url('/api'))).status).toBe(200);
    expect(as.count('/token')).toBe(2);
  });

  it('token endpoint echoes the client secret in error, error_description and error_uri → OAuthError with each replaced by [redacted]', async () => {
    as.on('/token', (ctx) =>
      sendJson(ctx.res, 401, { error: `invalid_client ${SECRET}`, error_description: `secret ${SECRET} is wrong`, error_uri: `https://as.example/e?s=${encodeURIComponent(SECRET)}&t=${SECRET}` }),
    );
    const err = await fails(client()(rs.url('/api')));
    expect(err).toBeInstanceOf(OAuthError);
    expect(err.error).toBe('invalid_client [redacted]');
    expect(err.error_description).toBe('secret [redacted] is wrong');
    expect(err.error_uri).toContain('[redacted]');
  });
});

describe('nonces', () => {
  it('DPoP-Nonce on every response, new each time (200s too) → learned from each: every request goes once, with the latest nonce', async () => {
    let n = 0;
    as.on('/token', tokenOk({}, { 'dpop-nonce': 'as-nonce' }));
    rs.on('/api', async (ctx) => {
      await verifyProofOf(ctx.request);
      sendJson(ctx.res, 200, {}, { 'dpop-nonce': `rs-${++n}` });
    });
    const api = client();
    for (let i = 0; i < 5; i++) expect((await api(rs.url('/api'))).status).toBe(200);
    const nonces = await Promise.all(rs.requests.map(async (r) => (await verifyProofOf(r)).nonce));
    expect(nonces).toEqual([undefined, 'rs-1', 'rs-2', 'rs-3', 'rs-4']);
    expect(as.count()).toBe(1);
    expect(events.filter((e) => e.type === 'nonce-retry')).toEqual([]);
  });

  it('token endpoint demands a nonce with no DPoP-Nonce header → ERR_NONCE_MISSING naming the misconfiguration; one request', async () => {
    as.on('/token', (ctx) => sendJson(ctx.res, 400, { error: 'use_dpop_nonce' }));
    const err = await fails(client()(rs.url('/api')));
    expect(err).toBeInstanceOf(DPoPError);
    expect(err.code).toBe('ERR_NONCE_MISSING');
    expect(err.message).toContain('token endpoint demanded a DPoP nonce (use_dpop_nonce) but sent no valid DPoP-Nonce header');
    expect(as.count('/token')).toBe(1);
  });

  it('resource demands a nonce with no DPoP-Nonce header → ERR_NONCE_MISSING; one request', async () => {
    rs.on('/api', nonceDemand(undefined));
    const err = await fails(client()(rs.url('/api')));
    expect(err.code).toBe('ERR_NONCE_MISSING');
    expect(err.message).toContain(`resource server at ${rs.origin} demanded a DPoP nonce`);
    expect(rs.count()).toBe(1);
  });

  it('resource demands a nonce whose DPoP-Nonce has a quote and a space (not NQCHAR) → ignored, never echoed: ERR_NONCE_MISSING', async () => {
    rs.on('/api', nonceDemand('a"b c'));
    const err = await fails(client()(rs.url('/api')));
    expect(err.code).toBe('ERR_NONCE_MISSING');
    expect(rs.count()).toBe(1);
  });

  it('token endpoint changes its nonce on every attempt → retried once, then OAuthError use_dpop_nonce; two requests', async () => {
    as.on('/token', (ctx) => sendJson(ctx.res, 400, { error: 'use_dpop_nonce' }, { 'dpop-nonce': `as-${ctx.n}` }));
    const err = await fails(client()(rs.url('/api')));
    expect(err).toBeInstanceOf(OAuthError);
    expect(err.error).toBe('use_dpop_nonce');
    expect(err.message).toContain('demanded a new nonce again after one retry');
    expect(as.count('/token')).toBe(2);
    expect((await verifyProofOf(as.requests[1]!)).nonce).toBe('as-1');
  });

  it('resource changes its nonce on every attempt → retried once with the new nonce, then its 401 is returned; two requests', async () => {
    rs.on('/api', (ctx) => nonceDemand(`rs-${ctx.n}`)(ctx));
    const res = await client()(rs.url('/api'));
    expect(res.status).toBe(401);
    expect(rs.count()).toBe(2);
    expect((await verifyProofOf(rs.requests[1]!)).nonce).toBe('rs-1');
  });

  it('resource demands the nonce the proof already carried → not retried (no new nonce): the 401 is returned', async () => {
    rs.on('/api', (ctx) => (ctx.n === 1 ? sendJson(ctx.res, 200, {}, { 'dpop-nonce': 'same' }) : nonceDemand('same')(ctx)));
    const api = client();
    await api(rs.url('/api'));
    expect((await api(rs.url('/api'))).status).toBe(401);
    expect(rs.count()).toBe(2);
  });
});

describe('WWW-Authenticate', () => {
  const cases: [string, string, string, number, number][] = [
    ['several challenges, DPoP last, odd spacing and escaped quotes', 'the nonce demand is found: retried once, HTTP 200', 'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple",Bearer realm="a, b" ,  DPoP   algs="ES256 PS256" , error = "use_dpop_nonce"', 200, 2],
    ['a lower-case scheme and an unquoted error token', 'the nonce demand is found: retried once, HTTP 200', 'dpop error=use_dpop_nonce, algs=ES256', 200, 2],
    ['"DPoP error=use_dpop_nonce" only inside another challenge\'s quoted value', 'not a demand: the 401 is returned after one request', 'Bearer error_description="try DPoP error=\\"use_dpop_nonce\\"", realm="x"', 401, 1],
    ['an unterminated quote and junk', 'no crash: the 401 is returned after one request', 'DPoP error="use_dpop_nonce, ((( ,, =', 401, 1],
    ['a token68 challenge before the DPoP one', 'the nonce demand is found: retried once, HTTP 200', 'Negotiate YIIB+/==, DPoP error="use_dpop_nonce"', 200, 2],
  ];
  it.for(cases)('401 with %s → %s', async ([, , header, status, requests]) => {
    rs.on('/api', (ctx) => (ctx.n === 1 ? nonceDemand('n-1', header)(ctx) : apiOk(ctx)));
    const res = await client()(rs.url('/api'));
    expect(res.status).toBe(status);
    expect(rs.count()).toBe(requests);
  });

  it('two WWW-Authenticate header lines (Bearer, then DPoP) → read as one list: the nonce demand is retried once', async () => {
    rs.on('/api', (ctx) => {
      if (ctx.n > 1) return apiOk(ctx);
      ctx.res.setHeader('www-authenticate', ['Bearer realm="api"', 'DPoP error="use_dpop_nonce"']);
      ctx.res.setHeader('dpop-nonce', 'n-1');
      ctx.res.writeHead(401).end();
    });
    expect((await client()(rs.url('/api'))).status).toBe(200);
    expect(rs.count()).toBe(2);
  });
});

describe('tokens the resource refuses', () => {
  it('401 invalid_token for a token just fetched → the 401 is returned, no renewal: one token request, one API request', async () => {
    rs.on('/api', (ctx) => sendJson(ctx.res, 401, {}, { 'www-authenticate': 'DPoP error="invalid_token", error_description="revoked"' }));
    const res = await client()(rs.url('/api'));
    expect(res.status).toBe(401);
    expect(as.count('/token')).toBe(1);
    expect(rs.count()).toBe(1);
  });

  it('401 invalid_token for a cached token, and again for its renewal → renewed once, then the 401 is returned: two API requests', async () => {
    const api = client();
    expect((await api(rs.url('/api'))).status).toBe(200);
    rs.on('/api', (ctx) => sendJson(ctx.res, 401, {}, { 'www-authenticate': 'DPoP error="invalid_token"' }));
    expect((await api(rs.url('/api'))).status).toBe(401);
    expect(as.count('/token')).toBe(2);
    expect(rs.count()).toBe(3);
  });

  it('429 with Retry-After from the resource → returned as is, not retried: one request', async () => {
    rs.on('/api', (ctx) => sendJson(ctx.res, 429, { error: 'slow_down' }, { 'retry-after': '5' }));
    const res = await client()(rs.url('/api'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(rs.count()).toBe(1);
  });

  it('503 from the resource → returned as is, not retried: one request', async () => {
    rs.on('/api', (ctx) => void ctx.res.writeHead(503).end('down'));
    expect((await client()(rs.url('/api'))).status).toBe(503);
    expect(rs.count()).toBe(1);
  });
});

describe('dropped connections to the resource', () => {
  it('resource drops the connection before answering → TypeError, as fetch rejects; not retried: one request', async () => {
    rs.on('/api', dropBeforeResponse);
    const err = await fails(client()(rs.url('/api')));
    expect(err).toBeInstanceOf(TypeError);
    expect(rs.count()).toBe(1);
  });

  it('resource drops the connection mid-body → the Response resolves and reading its body rejects with TypeError', async () => {
    rs.on('/api', async (ctx) => (await verifyProofOf(ctx.request), dropMidResponse(ctx, '{"partial":')));
    const res = await client()(rs.url('/api'));
    expect(res.status).toBe(200);
    expect(await fails(res.text())).toBeInstanceOf(TypeError);
    expect(rs.count()).toBe(1);
  });

  it('first request to an origin fails before it is sent (proof signing fails) → the error surfaces and later requests to that origin are not held waiting for a nonce', async () => {
    const fakeKey = (type: 'private' | 'public') => ({ [Symbol.toStringTag]: 'CryptoKey', type, algorithm: { name: 'ECDSA', namedCurve: 'P-256' }, usages: ['sign'], extractable: false });
    const broken = { privateKey: fakeKey('private'), publicKey: fakeKey('public') } as unknown as CryptoKeyPair;
    // Without a token source nothing happens before the proof; nonceWait is far beyond the test timeout.
    const api = createDPoPFetch({ keyPair: broken, nonceWait: 60_000 });
    const first = await fails(api(rs.url('/api')));
    const second = await fails(api(rs.url('/api')));
    expect(second.constructor).toBe(first.constructor);
    expect(rs.count()).toBe(0);
  });
});

describe('redirects', () => {
  it('token endpoint redirects (302) to another origin → ERR_TOKEN_REDIRECT; the other origin receives nothing', async () => {
    as.on('/token', redirect(302, other.url('/token')));
    other.on('/token', tokenOk());
    const err = await fails(client()(rs.url('/api')));
    expect(err).toMatchObject({ code: 'ERR_TOKEN_REDIRECT', status: 302 });
    expect(as.count()).toBe(1);
    expect(other.count()).toBe(0);
  });

  it('token endpoint redirects (307) within its origin → ERR_TOKEN_REDIRECT; one request', async () => {
    as.on('/token', redirect(307, '/token2'));
    as.on('/token2', tokenOk());
    const err = await fails(client()(rs.url('/api')));
    expect(err.code).toBe('ERR_TOKEN_REDIRECT');
    expect(as.count()).toBe(1);
  });

  it('resource redirects (302) within its origin → followed with the token and a fresh proof whose htu is the new URL (jose checks each hop)', async () => {
    rs.on('/old', async (ctx) => (await verifyProofOf(ctx.request), redirect(302, '/api?x=1')(ctx)));
    const res = await client()(rs.url('/old'));
    expect(res.status).toBe(200);
    expect(res.redirected).toBe(true);
    expect(res.url).toBe(rs.url('/api?x=1'));
    expect(await res.json()).toMatchObject({ htu: rs.url('/api') });
    const [first, second] = await Promise.all(rs.requests.map(verifyProofOf));
    expect(first!.htu).toBe(rs.url('/old'));
    expect(first!.jti).not.toBe(second!.jti);
    expect(tokenOf(rs.requests[1]!)).toBe(issued[0]);
  });

  it('resource redirects a POST with 307 → method and body kept, new proof for the new URL', async () => {
    rs.on('/old', redirect(307, '/api'));
    const res = await client()(rs.url('/old'), { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } });
    expect(await res.json()).toMatchObject({ method: 'POST', body: 'payload', htu: rs.url('/api') });
    expect(rs.requests[1]!.headers['content-type']).toBe('text/plain');
  });

  it('resource redirects a POST with 303 → followed as a GET without body or content-type', async () => {
    rs.on('/old', redirect(303, '/api'));
    const res = await client()(rs.url('/old'), { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } });
    expect(await res.json()).toMatchObject({ method: 'GET', body: '' });
    expect(rs.requests[1]!.headers['content-type']).toBeUndefined();
  });

  it('resource redirects to another origin → followed without Authorization, DPoP or Cookie', async () => {
    rs.on('/old', redirect(302, other.url('/landing')));
    other.on('/landing', (ctx) => sendJson(ctx.res, 200, { landed: true }));
    const res = await client()(rs.url('/old'), { headers: { cookie: 'session=1' } });
    expect(await res.json()).toEqual({ landed: true });
    expect(res.redirected).toBe(true);
    const landed = other.requests[0]!;
    expect(landed.headers.authorization).toBeUndefined();
    expect(landed.headers.dpop).toBeUndefined();
    expect(landed.headers.cookie).toBeUndefined();
    expect(rs.requests[0]!.headers.cookie).toBe('session=1');
  });

  it('resource redirects to an origin in allowedOrigins → followed with the token and a proof for that origin\'s URL', async () => {
    rs.on('/old', redirect(308, other.url('/api')));
    other.on('/api', apiOk);
    const api = client({ allowedOrigins: [rs.origin, other.origin] });
    const res = await api(rs.url('/old'));
    expect(await res.json()).toMatchObject({ htu: other.url('/api') });
    expect(tokenOf(other.requests[0]!)).toBe(issued[0]);
    other.requests.length = 0; // it was allowed to see the token; the leak check is for the others
  });

  it('redirect from an origin outside allowedOrigins → left to fetch: no token, no proof anywhere', async () => {
    other.on('/old', redirect(302, rs.url('/api')));
    rs.on('/api', (ctx) => sendJson(ctx.res, 200, { authorization: ctx.request.headers.authorization ?? null, dpop: ctx.request.headers.dpop ?? null }));
    const res = await client({ allowedOrigins: [rs.origin] })(other.url('/old'));
    expect(await res.json()).toEqual({ authorization: null, dpop: null });
    expect(as.count()).toBe(0);
  });

  it('redirected URL demands a nonce → retried once there, with a proof for that URL and the nonce', async () => {
    rs.on('/old', redirect(302, '/api'));
    rs.on('/api', (ctx) => (ctx.n === 1 ? nonceDemand('n-api')(ctx) : apiOk(ctx)));
    const res = await client()(rs.url('/old'));
    expect(res.status).toBe(200);
    expect(rs.count('/api')).toBe(2);
    expect(await verifyProofOf(rs.requests[2]!)).toMatchObject({ htu: rs.url('/api'), nonce: 'n-api' });
  });

  it('caller-supplied Authorization: DPoP (no token source), redirected within the origin → kept, with a new proof whose ath matches', async () => {
    const token = newToken();
    issued.push(token);
    rs.on('/old', redirect(301, '/api'));
    const api = createDPoPFetch({ keyPair, onEvent: (e) => events.push(e) });
    const res = await api(rs.url('/old'), { headers: { authorization: `DPoP ${token}` } });
    expect(res.status).toBe(200);
    expect(tokenOf(rs.requests[1]!)).toBe(token);
  });

  it('caller-supplied Authorization: DPoP, redirected to another origin → Authorization and DPoP dropped', async () => {
    const token = newToken();
    issued.push(token);
    rs.on('/old', redirect(302, other.url('/landing')));
    other.on('/landing', (ctx) => sendJson(ctx.res, 200, {}));
    const api = createDPoPFetch({ keyPair });
    expect((await api(rs.url('/old'), { headers: { authorization: `DPoP ${token}` } })).status).toBe(200);
    expect(other.requests[0]!.headers.authorization).toBeUndefined();
    expect(other.requests[0]!.headers.dpop).toBeUndefined();
  });

  it('redirect loop → ERR_REDIRECT after 20 redirects, as fetch limits them: 21 requests', async () => {
    rs.on('/loop', redirect(302, '/loop'));
    const err = await fails(client()(rs.url('/loop')));
    expect(err).toBeInstanceOf(DPoPError);
    expect(err.code).toBe('ERR_REDIRECT');
    expect(err.message).toContain('redirected more than 20 times');
    expect(rs.count()).toBe(21);
  });

  it.for([
    ['javascript:alert(1)', 'a javascript: URL'],
    ['http://[::1', 'an invalid URL'],
  ])('redirect to %s → ERR_REDIRECT (%s is never followed)', async ([location]) => {
    rs.on('/old', redirect(302, location));
    const err = await fails(client()(rs.url('/old')));
    expect(err.code).toBe('ERR_REDIRECT');
    expect(rs.count()).toBe(1);
  });

  it('caller passes redirect: "manual" → the 3xx is returned, not followed', async () => {
    rs.on('/old', redirect(302, '/api'));
    const res = await client()(rs.url('/old'), { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(rs.count()).toBe(1);
  });

  it('caller passes redirect: "error" → TypeError, as fetch rejects a redirect then', async () => {
    rs.on('/old', redirect(302, '/api'));
    expect(await fails(client()(rs.url('/old'), { redirect: 'error' }))).toBeInstanceOf(TypeError);
    expect(rs.count()).toBe(1);
  });

  it('a 300 Multiple Choices or a 3xx without Location → returned as is', async () => {
    rs.on('/choices', (ctx) => void ctx.res.writeHead(300, { location: '/api' }).end());
    rs.on('/nowhere', (ctx) => void ctx.res.writeHead(302).end());
    const api = client();
    expect((await api(rs.url('/choices'))).status).toBe(300);
    expect((await api(rs.url('/nowhere'))).status).toBe(302);
    expect(rs.count()).toBe(2);
  });

  it('one-shot stream body redirected with 307 → ERR_BODY_NOT_REPLAYABLE; one request', async () => {
    rs.on('/upload', redirect(307, '/api'));
    const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('once')), c.close()) });
    const err = await fails(client()(rs.url('/upload'), { method: 'POST', body, duplex: 'half' } as RequestInit));
    expect(err.code).toBe('ERR_BODY_NOT_REPLAYABLE');
    expect(err.message).toContain('redirected (HTTP 307)');
    expect(rs.count()).toBe(1);
  });
});

describe('a 400 with a new DPoP-Nonce from a resource (a token endpoint called through createDPoPFetch)', () => {
  /**
   * Headers, then a body chunk every 50 ms for as long as the client reads: 320 B/s, so the 4 KB
   * the client reads at most would take 12 s, beyond `settled`: only the one-second bound ends it.
   */
  const endless = (contentType: string, first = '{"error":"use_dpop_nonce"') => (ctx: Context) => {
    ctx.res.writeHead(400, { 'content-type': contentType, 'dpop-nonce': `n-${ctx.n}` });
    ctx.res.write(first);
    const timer = setInterval(() => ctx.res.write(' '.repeat(16)), 50);
    ctx.res.on('close', () => clearInterval(timer));
  };
  /** The response, or 'still pending' if it has not come 10 s later (ten times the bound). */
  const settled = (promise: Promise<Response>) =>
    Promise.race([promise, sleep(10_000).then(() => 'still pending' as const)]);

  it('400 JSON {"error":"use_dpop_nonce"} with a new DPoP-Nonce → retried once with that nonce, as at a token endpoint', async () => {
    rs.on('/api', (ctx) => (ctx.n === 1 ? sendJson(ctx.res, 400, { error: 'use_dpop_nonce' }, { 'dpop-nonce': 'n-400' }) : apiOk(ctx)));
    expect((await client()(rs.url('/api'))).status).toBe(200);
    expect(rs.count()).toBe(2);
    expect((await verifyProofOf(rs.requests[1]!)).nonce).toBe('n-400');
  });

  it('the same with an endless body not declared JSON (text/plain) → returned as fetch returns it, body unread: one request', async () => {
    rs.on('/api', endless('text/plain'));
    const res = await settled(client()(rs.url('/api')));
    if (res === 'still pending') throw new Error('the call did not resolve');
    expect(res.status).toBe(400);
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('use_dpop_nonce'); // the caller still gets every byte
    await reader.cancel();
    expect(rs.count()).toBe(1);
  });

  it('the same declared JSON, its body never ending → the 400 is returned once at most a second was spent reading it: one request', async () => {
    rs.on('/api', endless('application/json'));
    const res = await settled(client()(rs.url('/api')));
    if (res === 'still pending') throw new Error('the call did not resolve');
    expect(res.status).toBe(400);
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('use_dpop_nonce');
    await reader.cancel();
    expect(rs.count()).toBe(1);
  });

  it('the same declared JSON, 8 MB long with use_dpop_nonce after the first 4 KB → not held in memory, not retried: the 400 is returned whole', async () => {
    const big = JSON.stringify({ padding: 'x'.repeat(8 << 20), error: 'use_dpop_nonce' });
    rs.on('/api', (ctx) => sendJson(ctx.res, 400, big, { 'dpop-nonce': 'n-big' }));
    const res = await client()(rs.url('/api'));
    expect(res.status).toBe(400);
    expect((await res.text()).length).toBe(big.length);
    expect(rs.count()).toBe(1);
  });
});

describe('server clocks (Date)', () => {
  const withDate = (date: string): Handler => async (ctx) => {
    await verifyProofOf(ctx.request);
    sendJson(ctx.res, 200, { ok: true }, { date });
  };
  const iatOf = async (request: (typeof rs.requests)[number]) => (await verifyProofOf(request)).iat!;

  it.for([
    ['Date: 0 (which Date.parse reads as the year 2000)', '0'],
    ['a valid HTTP-date in 1999', 'Fri, 31 Dec 1999 23:59:59 GMT'],
    ['an ISO 8601 date, not an HTTP-date', '2000-01-01T00:00:00Z'],
  ])('one server sends %s → ignored: proofs to it and to another server keep the local time', async ([, date]) => {
    other.on('/api', withDate(date));
    const api = createDPoPFetch({ keyPair, onEvent: (e) => events.push(e) });
    for (const target of [other.url('/api'), other.url('/api'), rs.url('/api')]) await (await api(target)).body?.cancel();
    const now = Date.now() / 1000;
    for (const request of [...other.requests, ...rs.requests]) expect(Math.abs((await iatOf(request)) - now)).toBeLessThan(5);
    expect(events.filter((e) => e.type === 'clock-skew')).toEqual([]);
  });

  it('one server\'s clock is an hour ahead → proofs to it carry its time; proofs to another server keep the local time (one offset per origin)', async () => {
    other.on('/api', withDate(new Date(Date.now() + 3_600_000).toUTCString()));
    const api = createDPoPFetch({ keyPair, onEvent: (e) => events.push(e) });
    await (await api(other.url('/api'))).body?.cancel();
    await (await api(other.url('/api'))).body?.cancel();
    await (await api(rs.url('/api'))).body?.cancel();
    const now = Date.now() / 1000;
    expect(Math.abs((await iatOf(other.requests[1]!)) - now - 3600)).toBeLessThan(5);
    expect(Math.abs((await iatOf(rs.requests[0]!)) - now)).toBeLessThan(5);
    expect(events.filter((e) => e.type === 'clock-skew')).toEqual([{ type: 'clock-skew', offset: expect.closeTo(3_600_000, -4), url: other.url('/api') }]);
  });

  it('a 2-second token, then the API sends Date: 0 → the token is still renewed once 2 s have passed on the monotonic clock', async () => {
    as.on('/token', tokenOk({ expires_in: 2 }));
    rs.on('/api', async (ctx) => (issued.includes(tokenOf(ctx.request) ?? '') ? withDate('0')(ctx) : apiOk(ctx)));
    const api = client();
    await (await api(rs.url('/api'))).body?.cancel();
    await sleep(700); // past 2 s minus a second of margin minus a quarter of the lifetime
    await (await api(rs.url('/api'))).body?.cancel();
    expect(as.count('/token')).toBe(2);
  });

  it('a 2-second token, then the system clock is set back an hour → the token is still renewed once 2 s have passed on the monotonic clock', async () => {
    let skew = 0;
    as.on('/token', tokenOk({ expires_in: 2 }));
    const api = client({ now: () => Date.now() + skew });
    await (await api(rs.url('/api'))).body?.cancel();
    skew = -3_600_000;
    await sleep(700);
    await (await api(rs.url('/api'))).body?.cancel();
    expect(as.count('/token')).toBe(2);
  });
});

describe('sizes kept from a server', () => {
  it('token endpoint answers 200 with a valid token in a 2 MiB JSON body → ERR_TOKEN_RESPONSE "not a JSON object of at most 1 MiB"; the token is never used', async () => {
    const token = newToken();
    issued.push(token);
    as.on('/token', (ctx) => sendJson(ctx.res, 200, { access_token: token, token_type: 'DPoP', expires_in: 300, padding: 'x'.repeat(2 << 20) }));
    const err = await fails(client()(rs.url('/api')));
    expect(err).toBeInstanceOf(TokenResponseError);
    expect(err).toMatchObject({ code: 'ERR_TOKEN_RESPONSE', status: 200 });
    expect(err.message).toContain('not a JSON object of at most 1 MiB');
    expect(rs.count()).toBe(0);
  });

  it('resource demands a nonce whose DPoP-Nonce is 1025 characters → not kept or echoed: ERR_NONCE_MISSING; 1024 characters are kept', async () => {
    rs.on('/api', nonceDemand('n'.repeat(1025)));
    expect((await fails(client()(rs.url('/api')))).code).toBe('ERR_NONCE_MISSING');
    expect(rs.count()).toBe(1);
    rs.on('/api', (ctx) => (ctx.n === 2 ? nonceDemand('m'.repeat(1024))(ctx) : apiOk(ctx)));
    expect((await client()(rs.url('/api'))).status).toBe(200);
    expect((await verifyProofOf(rs.requests[2]!)).nonce).toBe('m'.repeat(1024));
  });
});

describe('server text used as a key or a URL', () => {
  it.for(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('token endpoint answers {"error":"%s"} → OAuthError whose message is the error and nothing from Object.prototype', async (error) => {
    as.on('/token', (ctx) => sendJson(ctx.res, 400, { error }));
    const err = await fails(client()(rs.url('/api')));
    expect(err).toBeInstanceOf(OAuthError);
    expect(err.error).toBe(error);
    expect(err.message).toBe(`The token endpoint refused the request: ${error}, HTTP 400.`);
  });

  it('resource redirects to a Location with credentials (http://user:pw@…) → ERR_REDIRECT, not a plain TypeError; nothing sent there', async () => {
    rs.on('/old', redirect(302, other.url('/api').replace('//', '//user:pw@')));
    const err = await fails(client()(rs.url('/old')));
    expect(err).toBeInstanceOf(DPoPError);
    expect(err.code).toBe('ERR_REDIRECT');
    expect(err.message).toContain('redirected to an invalid URL (HTTP 302)');
    expect(other.count()).toBe(0);
  });

  it('token endpoint echoes the private_key_jwt assertion in its error → OAuthError with the assertion replaced by [redacted]', async () => {
    const assertionKey = await generateKeyPair();
    as.on('/token', (ctx) => {
      const assertion = new URLSearchParams(ctx.request.body).get('client_assertion')!;
      issued.push(assertion, assertion.split('.')[2]!); // the leak check looks for it, and for its signature
      sendJson(ctx.res, 401, { error: 'invalid_client', error_description: `bad assertion ${assertion}.` });
    });
    const err = await fails(client({}, { clientSecret: undefined, clientAssertionKey: assertionKey, clientAssertionKid: 'k1' })(rs.url('/api')));
    expect(err).toBeInstanceOf(OAuthError);
    expect(err.error_description).toBe('bad assertion [redacted].');
  });
});
