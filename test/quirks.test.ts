// How real servers bend RFC 9449, each played by a fault server on 127.0.0.1 that behaves that
// way (issue 17): the client must work against all of them on the first try. Proofs are
// verified by jose at the server on every request. Test names read "case → outcome":
// e2e/fault-table.mjs puts them in the README.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  clientCredentials,
  createDPoPFetch,
  generateKeyPair,
  OAuthError,
  refreshToken,
  TokenResponseError,
  type DPoPEvent,
  type DPoPFetchOptions,
  type TokenSource,
} from '../src/index.ts';
import { newToken, sendJson, startFaultServer, tokenOf, verifyProofOf, type Context, type FaultServer, type Handler } from './support/fault-server.ts';
import { failOnUnhandledRejections } from './support/leaks.ts';

failOnUnhandledRejections();

const keyPair = await generateKeyPair();
let as: FaultServer;
let rs: FaultServer;
const issued: string[] = [];
const events: DPoPEvent[] = [];

beforeEach(async () => {
  [as, rs] = await Promise.all([startFaultServer(), startFaultServer()]);
  as.on('/token', tokenOk());
  rs.on('/api', apiOk);
  issued.length = events.length = 0;
});
afterEach(() => Promise.all([as.close(), rs.close()]));

function tokenOk(extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Handler {
  return async (ctx) => {
    await verifyProofOf(ctx.request);
    const token = newToken();
    issued.push(token);
    sendJson(ctx.res, 200, { access_token: token, token_type: 'DPoP', expires_in: 300, ...extra }, headers);
  };
}

async function apiOk(ctx: Context): Promise<void> {
  if (ctx.request.headers.dpop !== undefined) await verifyProofOf(ctx.request);
  if (!issued.includes(tokenOf(ctx.request) ?? '')) return sendJson(ctx.res, 401, {}, { 'www-authenticate': 'DPoP error="invalid_token"' });
  sendJson(ctx.res, 200, { ok: true });
}

const tokens = (): TokenSource => clientCredentials({ tokenEndpoint: as.url('/token'), clientId: 'app', clientSecret: 's3cret', scope: 'api' });
const client = (options: Partial<DPoPFetchOptions> = {}) => createDPoPFetch({ keyPair, tokens: tokens(), onEvent: (e) => void events.push(e), ...options });
const TEN_MINUTES = 600_000;
/** A Date header ten minutes ahead of this machine. */
const ahead = () => new Date(Date.now() + TEN_MINUTES).toUTCString();

describe('nonce demands with the wrong status', () => {
  it('resource answers 400 (not 401) with WWW-Authenticate: DPoP error="use_dpop_nonce" and a text body (Quarkus) → retried once with the nonce: HTTP 200, two requests', async () => {
    rs.on('/api', async (ctx) => {
      if ((await verifyProofOf(ctx.request)).nonce !== 'rs-1') {
        ctx.res.writeHead(400, { 'content-type': 'text/plain', 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="nonce required"', 'dpop-nonce': 'rs-1' });
        return void ctx.res.end('Bad Request');
      }
      await apiOk(ctx);
    });
    expect((await client()(rs.url('/api'))).status).toBe(200);
    expect(rs.count()).toBe(2);
    expect(events.filter((e) => e.type === 'nonce-retry')).toEqual([{ type: 'nonce-retry', server: 'resource', url: rs.url('/api') }]);
  });

  it('token endpoint answers 401 (not 400) with {"error":"use_dpop_nonce"} → retried once with the nonce: a token, two requests', async () => {
    as.on('/token', async (ctx) => ((await verifyProofOf(ctx.request)).nonce === 'as-1' ? tokenOk()(ctx) : sendJson(ctx.res, 401, { error: 'use_dpop_nonce' }, { 'dpop-nonce': 'as-1' })));
    expect((await client()(rs.url('/api'))).status).toBe(200);
    expect(as.count('/token')).toBe(2);
  });
});

describe('challenges that say Bearer to a DPoP request', () => {
  it('resource challenges with Bearer error="invalid_token" (no DPoP challenge) for a cached DPoP token → renewed once, and the retry with the new token succeeds', async () => {
    const api = client();
    expect((await api(rs.url('/api'))).status).toBe(200);
    const revoked = issued[0];
    rs.on('/api', async (ctx) => {
      await verifyProofOf(ctx.request);
      if (tokenOf(ctx.request) === revoked) return sendJson(ctx.res, 401, {}, { 'www-authenticate': 'Bearer realm="api", error="invalid_token", error_description="expired"' });
      await apiOk(ctx);
    });
    expect((await api(rs.url('/api'))).status).toBe(200);
    expect(as.count('/token')).toBe(2);
    expect(rs.count()).toBe(3);
  });

  it('resource challenges with Bearer error="use_dpop_nonce" → the nonce demand is found: retried once, HTTP 200', async () => {
    rs.on('/api', async (ctx) => ((await verifyProofOf(ctx.request)).nonce === 'n-1' ? apiOk(ctx) : sendJson(ctx.res, 401, {}, { 'www-authenticate': 'Bearer error="use_dpop_nonce"', 'dpop-nonce': 'n-1' })));
    expect((await client()(rs.url('/api'))).status).toBe(200);
    expect(rs.count()).toBe(2);
  });
});

describe('invalid_dpop_proof, with or without a clock that is off', () => {
  for (const status of [400, 401, 403]) {
    it(`resource answers ${status} DPoP error="invalid_dpop_proof" with a Date 10 minutes ahead → re-signed once with the corrected clock: HTTP 200, two requests`, async () => {
      rs.on('/api', async (ctx) => {
        const { iat } = await verifyProofOf(ctx.request);
        if (Math.abs(iat! - (Date.now() + TEN_MINUTES) / 1000) > 60) return sendJson(ctx.res, status, {}, { date: ahead(), 'www-authenticate': 'DPoP error="invalid_dpop_proof", error_description="iat"' });
        await apiOk(ctx);
      });
      expect((await client()(rs.url('/api'))).status).toBe(200);
      expect(rs.count()).toBe(2);
    });
  }

  for (const status of [400, 401, 403]) {
    it(`token endpoint answers ${status} invalid_dpop_proof with a Date 10 minutes ahead, every time → OAuthError invalid_dpop_proof, HTTP ${status}, saying the server's clock is 600 s off`, async () => {
      as.on('/token', (ctx) => sendJson(ctx.res, status, { error: 'invalid_dpop_proof', error_description: 'Invalid DPoP' }, { date: ahead() }));
      const err = await client()(rs.url('/api')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OAuthError);
      expect(err).toMatchObject({ error: 'invalid_dpop_proof', status });
      expect((err as Error).message).toMatch(/^The token endpoint refused the request: invalid_dpop_proof \(Invalid DPoP\), HTTP \d+\. Its Date is (599|600) s off: check the system clock\.$/);
      expect(as.count('/token')).toBe(2); // once more with the corrected clock, then the error
    });
  }

  it('token endpoint answers 403 invalid_dpop_proof with a Date that agrees with ours → OAuthError saying to check the key and the clock; one request', async () => {
    as.on('/token', (ctx) => sendJson(ctx.res, 403, { error: 'invalid_dpop_proof' }));
    const err = await client()(rs.url('/api')).catch((e: unknown) => e);
    expect((err as Error).message).toBe('The token endpoint refused the request: invalid_dpop_proof, HTTP 403. Check the key and the system clock.');
    expect(as.count('/token')).toBe(1);
  });

  it('token endpoint refuses a stale iat (403) before it demands its nonce (400), as Glewlwyd does → the clock, then the nonce: a token after three requests', async () => {
    as.on('/token', async (ctx) => {
      const { iat, nonce } = await verifyProofOf(ctx.request);
      if (Math.abs(iat! - (Date.now() + TEN_MINUTES) / 1000) > 60) return sendJson(ctx.res, 403, { error: 'invalid_dpop_proof', error_description: 'Invalid DPoP' }, { date: ahead() });
      if (nonce !== 'as-1') return sendJson(ctx.res, 400, { error: 'use_dpop_nonce' }, { date: ahead(), 'dpop-nonce': 'as-1' });
      await tokenOk({}, { date: ahead() })(ctx);
    });
    rs.on('/api', async (ctx) => {
      ctx.res.setHeader('date', ahead());
      await apiOk(ctx);
    });
    expect((await client()(rs.url('/api'))).status).toBe(200);
    expect(as.count('/token')).toBe(3);
  });
});

describe('nonces replaced on a successful answer', () => {
  it('token endpoint replaces its nonce on a 200 and demands the new one next time (Glewlwyd, every 10th use) → learned from the 200: no nonce demand after the first', async () => {
    let current = 'as-1';
    as.on('/token', async (ctx) => {
      if ((await verifyProofOf(ctx.request)).nonce !== current) return sendJson(ctx.res, 400, { error: 'use_dpop_nonce' }, { 'dpop-nonce': current });
      current = `as-${ctx.n}`;
      await tokenOk({ expires_in: 0 }, { 'dpop-nonce': current })(ctx); // not cached: every call asks again
    });
    const api = client();
    for (let i = 0; i < 4; i++) expect((await api(rs.url('/api'))).status).toBe(200);
    expect(as.count('/token')).toBe(5); // one demand, then four tokens
  });
});

describe('token_type', () => {
  for (const type of ['dpop', 'DPOP', 'Dpop', 'bearer', 'BEARER', 'Bearer']) {
    it(`token_type "${type}" → the token is sent as ${type.toLowerCase() === 'dpop' ? 'DPoP, with a proof' : 'Bearer, without a proof'}`, async () => {
      as.on('/token', tokenOk({ token_type: type }));
      expect((await client()(rs.url('/api'))).status).toBe(200);
      const sent = rs.requests[0]!;
      const dpop = type.toLowerCase() === 'dpop';
      expect(sent.headers.authorization).toBe(`${dpop ? 'DPoP' : 'Bearer'} ${issued[0]}`);
      expect(sent.headers.dpop !== undefined).toBe(dpop);
    });
  }
});

describe('a Bearer access token with a DPoP-bound refresh token (as Google issues them)', () => {
  /** A token endpoint whose refresh tokens are bound to the key of the first proof, and whose access tokens are Bearer. */
  const bearerWithBoundRefresh = (): Handler => {
    let jkt: string | undefined;
    return async (ctx) => {
      const proof = await verifyProofOf(ctx.request);
      const thumbprint = JSON.stringify((await import('jose')).decodeProtectedHeader(String(ctx.request.headers.dpop)).jwk);
      jkt ??= thumbprint;
      if (thumbprint !== jkt) return sendJson(ctx.res, 400, { error: 'invalid_grant', error_description: 'refresh token bound to another key' });
      expect(proof.htm).toBe('POST');
      const token = newToken();
      issued.push(token);
      sendJson(ctx.res, 200, { access_token: token, token_type: 'Bearer', expires_in: 0, refresh_token: 'rt-bound' });
    };
  };
  const refreshing = () => refreshToken({ tokenEndpoint: as.url('/token'), clientId: 'app', refreshToken: 'rt-bound' });

  it('refreshes with a proof by the key, and sends the access token as Bearer without one → HTTP 200; each call refreshes with a proof', async () => {
    as.on('/token', bearerWithBoundRefresh());
    const api = createDPoPFetch({ keyPair, tokens: refreshing() });
    for (let i = 0; i < 2; i++) expect((await api(rs.url('/api'))).status).toBe(200);
    expect(as.requests.map((r) => [new URLSearchParams(r.body).get('grant_type'), typeof r.headers.dpop])).toEqual([['refresh_token', 'string'], ['refresh_token', 'string']]);
    expect(rs.requests.map((r) => [r.headers.authorization?.split(' ')[0], r.headers.dpop])).toEqual([['Bearer', undefined], ['Bearer', undefined]]);
    // The refresh token is bound: another key is refused by the server.
    const stranger = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: refreshing() });
    expect(await stranger(rs.url('/api')).catch((e: unknown) => e)).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_grant' });
  });

  it('the same with requireDPoP → ERR_TOKEN_TYPE: the Bearer access token is refused, never sent', async () => {
    as.on('/token', bearerWithBoundRefresh());
    const err = await createDPoPFetch({ keyPair, tokens: refreshing(), requireDPoP: true })(rs.url('/api')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenResponseError);
    expect(err).toMatchObject({ code: 'ERR_TOKEN_TYPE' });
    expect(rs.count()).toBe(0);
  });
});

describe('a server with no iat leeway whose clock runs a few ms behind', () => {
  // Just after a second boundary by our clock, and 4 ms before it by the server's (Glewlwyd's
  // time() lags Date.now() by up to ~4 ms): an iat of "this second" is in the server's future.
  const boundary = Math.ceil(Date.now() / 1000) * 1000;
  const local = () => boundary + 2;
  const serverSeconds = () => Math.floor((local() - 4) / 1000);
  const strict: (next: Handler) => Handler = (next) => async (ctx) => {
    const { iat } = await verifyProofOf(ctx.request);
    if (iat! > serverSeconds()) return sendJson(ctx.res, 403, { error: 'invalid_dpop_proof', error_description: 'Invalid iat' }, { 'www-authenticate': 'DPoP error="invalid_dpop_proof"' });
    await next(ctx);
  };

  it('proofs to the token endpoint and the API, 2 ms after a second boundary → accepted at once: iat is one second back; one request each', async () => {
    as.on('/token', strict(tokenOk()));
    rs.on('/api', strict(apiOk));
    expect((await client({ now: local })(rs.url('/api'))).status).toBe(200);
    expect([as.count(), rs.count()]).toEqual([1, 1]);
    expect((await verifyProofOf(rs.requests[0]!)).iat).toBe(boundary / 1000 - 1);
  });
});
