// createDPoPFetch's own logic, with an in-process fake server passed as `fetch`.
// The real-peer flow (oidc-provider + oauth4webapi) is in fetch.peers.test.ts.
import { describe, expect, it } from 'vitest';
import { clientCredentials, createDPoPFetch, DPoPError, generateKeyPair, type DPoPEvent } from '../src/index.ts';
import { caught, decodeProof, recordingFetch, sha256b64url, verifyProof } from './helpers.ts';

const keyPair = await generateKeyPair();

const fake = recordingFetch;

const json = (body: unknown, init: ResponseInit = {}) =>
  new Response(JSON.stringify(body), { ...init, headers: { 'content-type': 'application/json', ...init.headers } });
const tokenResponse = (extra: Record<string, unknown> = {}) => json({ access_token: 'at-1', token_type: 'DPoP', expires_in: 300, ...extra });
const nonceDemand = (nonce: string) =>
  new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': nonce } });

describe('createDPoPFetch without a token source', () => {
  it('adds a proof with the right ath to requests that carry Authorization: DPoP', async () => {
    const server = fake(() => new Response('ok'));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    await api('https://rs.example/x?q=1', { headers: { Authorization: 'DPoP tok.en-1' } });
    const proof = server.seen[0]!.headers.get('dpop')!;
    const { payload } = await verifyProof(proof);
    expect(payload).toMatchObject({ htm: 'GET', htu: 'https://rs.example/x', ath: await sha256b64url('tok.en-1') });
    expect(server.seen[0]!.headers.get('authorization')).toBe('DPoP tok.en-1');
  });

  it('sends a proof without ath when there is no token, and none with a Bearer token', async () => {
    const server = fake(() => new Response('ok'));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    await api('https://rs.example/a', { method: 'POST', body: 'x' });
    expect(decodeProof(server.seen[0]!.headers.get('dpop')!).claims.ath).toBeUndefined();
    await api('https://rs.example/a', { headers: { authorization: 'Bearer abc' } });
    expect(server.seen[1]!.headers.get('dpop')).toBeNull();
  });
});

describe('createDPoPFetch nonce handling', () => {
  it('retries a use_dpop_nonce once with the new nonce, body intact, then reuses the nonce', async () => {
    const server = fake((req, n) => (n === 1 ? nonceDemand('n-1') : new Response(req.body)));
    const events: DPoPEvent[] = [];
    const api = createDPoPFetch({ keyPair, fetch: server.fetch, onEvent: (e) => events.push(e) });
    const res = await api('https://rs.example/a', { method: 'PUT', body: 'payload' });
    expect(await res.text()).toBe('payload');
    expect(server.seen.map((r) => decodeProof(r.headers.get('dpop')!).claims.nonce)).toEqual([undefined, 'n-1']);
    const [first, second] = server.seen.map((r) => decodeProof(r.headers.get('dpop')!).claims.jti);
    expect(first).not.toBe(second);
    await api('https://rs.example/b');
    expect(decodeProof(server.seen[2]!.headers.get('dpop')!).claims.nonce).toBe('n-1');
    expect(events).toEqual([{ type: 'nonce-retry', server: 'resource', url: 'https://rs.example/a' }]);
  });

  it('retries at most once when every answer demands a new nonce', async () => {
    const server = fake((_, n) => nonceDemand(`n-${n}`));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    const res = await api('https://rs.example/a');
    expect(res.status).toBe(401);
    expect(server.seen).toHaveLength(2);
  });

  it('does not retry when the demand carries the nonce just sent', async () => {
    const server = fake(() => nonceDemand('same'));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    await api('https://rs.example/a');
    const res = await api('https://rs.example/a');
    expect(res.status).toBe(401);
    expect(server.seen).toHaveLength(3); // 2 for the first call, 1 for the second
  });

  it('says what is wrong when a nonce is demanded without DPoP-Nonce', async () => {
    const server = fake(() => new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer realm="x", DPoP error="use_dpop_nonce"' } }));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    const err = await caught(() => api('https://rs.example/a'));
    expect(err).toBeInstanceOf(DPoPError);
    expect(err.code).toBe('ERR_NONCE_MISSING');
    expect(err.message).toMatch(/sent no valid DPoP-Nonce header/);
    expect(Object.keys(err)).not.toContain('response');
    expect(err.response.status).toBe(401);
  });

  it('a nonce demanded in a CORS answer whose DPoP-Nonce the page cannot read: the error names Access-Control-Expose-Headers (Chromium\'s real one is in e2e/browser/flow.spec.ts)', async () => {
    // A browser's cross-origin Response has type "cors" and hides unexposed headers; Node's never
    // has, so the answer is given that type here.
    const cors = () => Object.defineProperty(new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"' } }), 'type', { value: 'cors' });
    const err = await caught(() => createDPoPFetch({ keyPair, fetch: fake(cors).fetch })('https://rs.example/a'));
    expect(err.code).toBe('ERR_NONCE_MISSING');
    expect(err.message).toBe('The resource server at https://rs.example demanded a DPoP nonce, but this page cannot read its DPoP-Nonce header: the server must list DPoP-Nonce in Access-Control-Expose-Headers.');
  });

  it('keeps nonces per origin and learns them from 200s', async () => {
    const server = fake((req) => new Response('ok', { headers: { 'dpop-nonce': `for-${new URL(req.url).host}` } }));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    await api('https://a.example/');
    await api('https://b.example/');
    await api('https://a.example/');
    await api('https://b.example/');
    expect(server.seen.map((r) => decodeProof(r.headers.get('dpop')!).claims.nonce)).toEqual([undefined, undefined, 'for-a.example', 'for-b.example']);
  });

  it('fails clearly instead of resending a consumed one-shot stream', async () => {
    const server = fake(async (req) => (await req.text(), nonceDemand('n')));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch });
    const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('once')), c.close()) });
    const err = await caught(() => api('https://rs.example/up', { method: 'POST', body, duplex: 'half' } as RequestInit));
    expect(err.code).toBe('ERR_BODY_NOT_REPLAYABLE');
    expect(server.seen).toHaveLength(1);
    // The nonce was learned, so sending again works at once.
    const again = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('once')), c.close()) });
    await caught(() => api('https://rs.example/up', { method: 'POST', body: again, duplex: 'half' } as RequestInit)).catch(() => {});
    expect(decodeProof(server.seen[1]!.headers.get('dpop')!).claims.nonce).toBe('n');
  });
});

describe('createDPoPFetch with a token source', () => {
  const tokenEndpoint = 'https://as.example/token';
  const cc = () => clientCredentials({ tokenEndpoint, clientId: 'c', clientSecret: 's' });

  it('sends the token only to allowed origins', async () => {
    const server = fake((req) => (req.url === tokenEndpoint ? tokenResponse() : new Response('ok')));
    const api = createDPoPFetch({ keyPair, tokens: cc(), fetch: server.fetch, allowedOrigins: ['https://rs.example'] });
    await api('https://other.example/x');
    await api('https://rs.example/x');
    const other = server.seen.find((r) => r.url.startsWith('https://other'))!;
    expect(other.headers.get('authorization')).toBeNull();
    expect(other.headers.get('dpop')).toBeNull();
    expect(server.seen.find((r) => r.url.startsWith('https://rs'))!.headers.get('authorization')).toBe('DPoP at-1');
  });

  it('compares token_type case-insensitively and refuses Bearer with requireDPoP', async () => {
    const lower = fake((req) => (req.url === tokenEndpoint ? tokenResponse({ token_type: 'dpop' }) : new Response('ok')));
    await createDPoPFetch({ keyPair, tokens: cc(), fetch: lower.fetch })('https://rs.example/');
    expect(lower.seen[1]!.headers.get('authorization')).toBe('DPoP at-1');
    const bearer = fake((req) => (req.url === tokenEndpoint ? tokenResponse({ token_type: 'BEARER' }) : new Response('ok')));
    await createDPoPFetch({ keyPair, tokens: cc(), fetch: bearer.fetch })('https://rs.example/');
    expect(bearer.seen[1]!.headers.get('authorization')).toBe('Bearer at-1');
    const strict = createDPoPFetch({ keyPair, tokens: cc(), fetch: bearer.fetch, requireDPoP: true });
    expect((await caught(() => strict('https://rs.example/'))).code).toBe('ERR_TOKEN_TYPE');
  });

  it('renews a cached token once on 401 invalid_token, but not a fresh one', async () => {
    let issued = 0;
    const server = fake((req) => {
      if (req.url === tokenEndpoint) return tokenResponse({ access_token: `at-${++issued}` });
      const ok = req.headers.get('authorization') === `DPoP at-${issued}` && issued > 1;
      return ok ? new Response('ok') : new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } });
    });
    const api = createDPoPFetch({ keyPair, tokens: cc(), fetch: server.fetch });
    expect((await api('https://rs.example/')).status).toBe(401); // fresh token refused: returned as is
    expect(issued).toBe(1);
    expect((await api('https://rs.example/')).status).toBe(200); // cached token refused: renewed once
    expect(issued).toBe(2);
  });

  it('honours an AbortSignal while waiting for a token', async () => {
    let release!: () => void;
    const server = fake((req) => (req.url === tokenEndpoint ? new Promise<Response>((r) => (release = () => r(tokenResponse()))) : new Response('ok')));
    const api = createDPoPFetch({ keyPair, tokens: cc(), fetch: server.fetch });
    const controller = new AbortController();
    const pending = api('https://rs.example/', { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    release();
    // The token request went on and is cached for the next caller.
    expect((await api('https://rs.example/')).status).toBe(200);
    expect(server.seen.filter((r) => r.url === tokenEndpoint)).toHaveLength(1);
  });
});

describe('createDPoPFetch checks its options at the door', () => {
  const thrown = (options: unknown) => {
    try {
      createDPoPFetch(options as never);
    } catch (err) {
      const { name, code, message } = err as TypeError & { code: string };
      return { name, code, message };
    }
    return {};
  };
  const type = (message: string) => ({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message });
  const value = (message: string) => ({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message });
  const range = (path: string, kind: string, min: number, max: number) => value(`"options.${path}" must be ${kind} between ${min} and ${max}`);

  it('a wrong type → ERR_INVALID_ARG_TYPE naming the option', () => {
    expect(thrown(undefined)).toEqual(type('"options" must be an object'));
    expect(thrown([keyPair])).toEqual(type('"options" must be an object'));
    expect(thrown({ keyPair: {} })).toEqual(type('"options.keyPair" must be a CryptoKeyPair'));
    for (const tokens of [null, 'client_credentials', {}, { getToken: 'x' }]) {
      expect(thrown({ keyPair, tokens })).toEqual(type('"options.tokens" must be a token source such as clientCredentials(...)'));
    }
    expect(thrown({ keyPair, fetch: 'fetch' })).toEqual(type('"options.fetch" must be a function'));
    expect(thrown({ keyPair, allowedOrigins: 'https://rs.example' })).toEqual(type('"options.allowedOrigins" must be an array of origins'));
    expect(thrown({ keyPair, allowedOrigins: [5] })).toEqual(type('"options.allowedOrigins[0]" must be a string or URL'));
    expect(thrown({ keyPair, requireDPoP: 'yes' })).toEqual(type('"options.requireDPoP" must be a boolean'));
    for (const name of ['renewBefore', 'tokenTimeout', 'maxNonces', 'nonceWait']) expect(thrown({ keyPair, [name]: '5' })).toEqual(type(`"options.${name}" must be a number`));
    expect(thrown({ keyPair, onEvent: 'log' })).toEqual(type('"options.onEvent" must be a function'));
    expect(thrown({ keyPair, debug: 1 })).toEqual(type('"options.debug" must be a boolean'));
    expect(thrown({ keyPair, now: Date.now() })).toEqual(type('"options.now" must be a function'));
  });

  it('a number out of its range → ERR_INVALID_ARG_VALUE with the range; its bounds are accepted', () => {
    const bounds = [
      ['renewBefore', 'a number', 0, 86_400],
      ['tokenTimeout', 'a number', 0.001, 3_600],
      ['maxNonces', 'an integer', 1, 1_000_000],
      ['nonceWait', 'a number', 0, 60_000],
    ] as const;
    for (const [name, kind, min, max] of bounds) {
      for (const bad of [min - 0.001, max + 1, Number.NaN, Infinity]) expect(thrown({ keyPair, [name]: bad })).toEqual(range(name, kind, min, max));
      for (const ok of [min, max]) expect(thrown({ keyPair, [name]: ok })).toEqual({});
    }
    expect(thrown({ keyPair, maxNonces: 2.5 })).toEqual(range('maxNonces', 'an integer', 1, 1_000_000));
  });

  it('an allowed origin that is not an absolute http(s) URL → ERR_INVALID_ARG_VALUE naming its index; a URL counts by its origin only', async () => {
    expect(thrown({ keyPair, allowedOrigins: ['https://rs.example', 'ftp://files.example'] })).toEqual(value('"options.allowedOrigins[1]" must be an absolute http: or https: URL'));
    expect(thrown({ keyPair, allowedOrigins: ['rs.example'] })).toEqual(value('"options.allowedOrigins[0]" must be an absolute http: or https: URL'));
    const server = fake(() => new Response('ok'));
    const api = createDPoPFetch({ keyPair, fetch: server.fetch, allowedOrigins: [new URL('https://rs.example/only/this/path?q')] });
    await api('https://rs.example/elsewhere');
    await api('https://rs.example:8443/elsewhere');
    expect(server.seen.map((r) => r.headers.has('dpop'))).toEqual([true, false]);
  });
});
