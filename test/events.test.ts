// onEvent and debug (src/events.ts, emitted by fetch.ts, token.ts, token-request.ts): each
// event fires exactly when it should, and no event ever carries a token, a secret, a code, a
// proof or assertion signature. Exactness with an in-process fake server; the secret check over
// full flows against the real peers, with every secret read off their wire log.
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import * as jose from 'jose';
import { startPeers, type Exchange, type Peers } from '../e2e/peers.mjs';
import { authorizationCode, clientCredentials, createDPoPFetch, generateKeyPair, refreshToken, type DPoPEvent } from '../src/index.ts';
import { UserAgent } from './support/user-agent.ts';

const keyPair = await generateKeyPair();
const T = Date.parse('2026-05-01T12:00:00Z');
const tokenEndpoint = 'https://as.example/token';

/** A fake pair of servers: a token endpoint issuing at-1, at-2, … and an API run by `api`. */
function fake(api: (req: Request, token: string) => Response, tokenHeaders: Record<string, string> = {}) {
  let issued = 0;
  const seen: Request[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    seen.push(req.clone());
    if (req.url === tokenEndpoint) {
      return Response.json({ access_token: `at-${++issued}`, token_type: 'DPoP', expires_in: 60 }, { headers: tokenHeaders });
    }
    return api(req, req.headers.get('authorization')?.slice(5) ?? '');
  }) as typeof globalThis.fetch;
  return { fetch, seen, issued: () => issued };
}
const cc = () => clientCredentials({ tokenEndpoint, clientId: 'c', clientSecret: 's' });

describe('events fire exactly when they should', () => {
  it('token, then renewal: true only for a token that replaces one, after expiry', async () => {
    // A token's age is monotonic time (performance.now), moved here by hand.
    let monotonic = 1_000;
    const tick = vi.spyOn(performance, 'now').mockImplementation(() => monotonic);
    onTestFinished(() => tick.mockRestore());
    const server = fake(() => new Response('ok'));
    const events: DPoPEvent[] = [];
    const api = createDPoPFetch({ keyPair, tokens: cc(), fetch: server.fetch, onEvent: (e) => events.push(e) });
    await api('https://rs.example/a');
    await api('https://rs.example/a');
    expect(events).toEqual([{ type: 'token', tokenType: 'DPoP', expiresIn: 60, renewal: false, scope: undefined }]);
    monotonic += 60_000; // expired
    await api('https://rs.example/a');
    expect(events).toEqual([
      { type: 'token', tokenType: 'DPoP', expiresIn: 60, renewal: false, scope: undefined },
      { type: 'token', tokenType: 'DPoP', expiresIn: 60, renewal: true, scope: undefined },
    ]);
  });

  it('token-rejected for a cached token the API refuses, followed by the renewal; nothing for a fresh one refused', async () => {
    const server = fake((_, token) => (token === 'at-2' ? new Response('ok') : new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } })));
    const events: DPoPEvent[] = [];
    const api = createDPoPFetch({ keyPair, tokens: cc(), fetch: server.fetch, onEvent: (e) => events.push(e) });
    expect((await api('https://rs.example/x?q=1')).status).toBe(401); // fresh token refused: no retry, no event
    expect(events.map((e) => e.type)).toEqual(['token']);
    expect((await api('https://rs.example/x?q=1')).status).toBe(200);
    expect(events.slice(1)).toEqual([
      { type: 'token-rejected', url: 'https://rs.example/x' },
      { type: 'token', tokenType: 'DPoP', expiresIn: 60, renewal: true, scope: undefined },
    ]);
  });

  it('clock-skew once per correction, with the offset; none while the servers agree with the clock', async () => {
    let local = T + 1_000; // within the 5 s a Date cannot resolve
    const date = () => ({ date: new Date(T).toUTCString() });
    const server = fake(() => new Response('ok', { headers: date() }), date());
    const events: DPoPEvent[] = [];
    const api = createDPoPFetch({ keyPair, tokens: cc(), fetch: server.fetch, now: () => local, onEvent: (e) => events.push(e) });
    await api('https://rs.example/a');
    await api('https://rs.example/a');
    expect(events.map((e) => e.type)).toEqual(['token']);
    local = T - 600_000; // the device clock is set back 10 minutes
    await api('https://rs.example/a');
    await api('https://rs.example/a');
    expect(events.slice(1)).toEqual([{ type: 'clock-skew', offset: 600_000, url: 'https://rs.example/a' }]);
    expect(server.issued()).toBe(1); // the correction did not make the cached token look expired
  });

  it('nonce-retry for the token endpoint and the API, in order, then nothing on the next request (real peers)', async () => {
    const events: DPoPEvent[] = [];
    const api = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: 'api' }), onEvent: (e) => events.push(e) });
    await api(peers.apiUrl);
    expect(events).toEqual([
      { type: 'nonce-retry', server: 'token', url: peers.tokenEndpoint },
      { type: 'token', tokenType: 'DPoP', expiresIn: 300, renewal: false, scope: 'api' },
      { type: 'nonce-retry', server: 'resource', url: peers.apiUrl },
    ]);
    await api(peers.apiUrl);
    expect(events).toHaveLength(3);
  });

  it('debug: one proof event per proof sent (token endpoint included), decoded as the server received it, without the signature', async () => {
    const events: DPoPEvent[] = [];
    const server = fake(() => new Response('ok'));
    const api = createDPoPFetch({ keyPair, tokens: cc(), fetch: server.fetch, debug: true, onEvent: (e) => events.push(e) });
    await api('https://rs.example/a?secret=1', { method: 'POST', body: 'x' });
    await api('https://rs.example/b');
    const sent = server.seen.map((r) => r.headers.get('dpop')!);
    const proofs = events.filter((e) => e.type === 'proof');
    expect(proofs).toEqual(sent.map((p) => ({ type: 'proof', header: jose.decodeProtectedHeader(p), claims: jose.decodeJwt(p) })));
    expect(proofs.map((e) => (e as { claims: { htu: string } }).claims.htu)).toEqual([tokenEndpoint, 'https://rs.example/a', 'https://rs.example/b']);
    for (const p of sent) expect(JSON.stringify(events)).not.toContain(p.split('.')[2]);
    // Without debug: no proof events.
    const quiet: DPoPEvent[] = [];
    await createDPoPFetch({ keyPair, tokens: cc(), fetch: server.fetch, onEvent: (e) => quiet.push(e) })('https://rs.example/a');
    expect(quiet.map((e) => e.type)).toEqual(['token']);
  });

  it('debug without onEvent: the requests go on as without debug (nothing to report to)', async () => {
    const server = fake(() => new Response('ok'));
    const api = createDPoPFetch({ keyPair, tokens: cc(), fetch: server.fetch, debug: true });
    expect(await (await api('https://rs.example/a')).text()).toBe('ok');
    expect(server.seen.map((r) => r.url)).toEqual([tokenEndpoint, 'https://rs.example/a']);
    expect(jose.decodeJwt(server.seen[1]!.headers.get('dpop')!).htu).toBe('https://rs.example/a');
  });

  it('debug: a proof whose base64url has "-" and "_" (a nonce with ~ and ?) is decoded as jose decodes it', async () => {
    // In ASCII JSON only "~" or ">" and "?" make base64url's "-" and "_" (as the third byte of a
    // group); three in a row put one there wherever the nonce falls.
    const nonce = 'n~~~???~~~';
    const events: DPoPEvent[] = [];
    const server = fake(() => new Response('ok', { headers: { 'dpop-nonce': nonce } }));
    const api = createDPoPFetch({ keyPair, tokens: cc(), fetch: server.fetch, debug: true, onEvent: (e) => events.push(e) });
    await api('https://rs.example/a');
    await api('https://rs.example/a');
    const sent = server.seen.at(-1)!.headers.get('dpop')!;
    expect(sent.split('.')[1]).toMatch(/-.*_|_.*-/);
    expect(events.at(-1)).toEqual({ type: 'proof', header: jose.decodeProtectedHeader(sent), claims: jose.decodeJwt(sent) });
    expect((events.at(-1) as { claims: { nonce: string } }).claims.nonce).toBe(nonce);
  });

  it('a listener that throws changes nothing', async () => {
    const server = fake(() => new Response('ok'));
    const api = createDPoPFetch({ keyPair, tokens: cc(), fetch: server.fetch, debug: true, onEvent: () => { throw new Error('logger down'); } });
    expect((await api('https://rs.example/a')).status).toBe(200);
  });
});

// --- no secrets in events, over every grant against the real peers -------------------------

let peers: Peers;
const wire: Exchange[] = [];
let assertionKeys: CryptoKeyPair;
const REDIRECT = 'http://127.0.0.1:9/callback';

beforeAll(async () => {
  assertionKeys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const jwk = { ...(await crypto.subtle.exportKey('jwk', assertionKeys.publicKey)), alg: 'ES256', use: 'sig' };
  peers = await startPeers({
    authorizationCode: {},
    onExchange: (e) => wire.push(e),
    clients: [
      { client_id: 'spa', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [REDIRECT], scope: 'api' },
      { client_id: 'svc', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [jwk] }, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'api' },
    ],
  });
});
afterAll(() => peers?.close());

/** Every secret that crossed the wire, by kind: credentials, codes, tokens, and signatures. */
function secretsOnTheWire(): Record<string, Set<string>> {
  const kinds: Record<string, Set<string>> = { credential: new Set([peers.clientSecret]), code: new Set(), token: new Set(), signature: new Set() };
  const signatureOf = (jwt: string) => jwt.split('.')[2]!;
  for (const e of wire) {
    const form = e.server === 'as' && e.method === 'POST' ? new URLSearchParams(e.requestBody) : new URLSearchParams();
    for (const [name, kind] of [['client_secret', 'credential'], ['client_assertion', 'credential'], ['code', 'code'], ['code_verifier', 'code'], ['refresh_token', 'token']] as const) {
      const value = form.get(name);
      if (value) kinds[kind]!.add(value);
    }
    const assertion = form.get('client_assertion');
    if (assertion) kinds.signature!.add(signatureOf(assertion));
    if (e.responseBody.startsWith('{"access_token"')) {
      const body = JSON.parse(e.responseBody);
      kinds.token!.add(body.access_token);
      kinds.signature!.add(signatureOf(body.access_token));
      if (body.refresh_token) kinds.token!.add(body.refresh_token);
    }
    const proof = e.requestHeaders.dpop;
    if (typeof proof === 'string') kinds.signature!.add(signatureOf(proof));
    const authorization = e.requestHeaders.authorization;
    if (typeof authorization === 'string') kinds.token!.add(authorization.replace(/^\S+ /, ''));
  }
  return kinds;
}

describe('events never carry a token, secret, code or signature', () => {
  it('over client_secret, authorization code + refresh and private_key_jwt flows, in debug mode', async () => {
    const events: DPoPEvent[] = [];
    const onEvent = (e: DPoPEvent) => events.push(e);
    const dpopKey = await generateKeyPair();

    const secret = createDPoPFetch({ keyPair: dpopKey, debug: true, onEvent, tokens: clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: 'api' }) });
    expect((await secret(peers.apiUrl)).status).toBe(200);

    const login = await authorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, scope: 'api', keyPair: dpopKey });
    const code = authorizationCode.parseCallback(await new UserAgent().navigate(login.url, REDIRECT), { state: login.state });
    let stored = '';
    const spa = createDPoPFetch({ keyPair: dpopKey, debug: true, onEvent, tokens: authorizationCode({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', redirectUri: REDIRECT, code, codeVerifier: login.codeVerifier, onRefreshToken: (rt) => void (stored = rt) }) });
    expect((await spa(peers.apiUrl)).status).toBe(200);
    const resumed = createDPoPFetch({ keyPair: dpopKey, debug: true, onEvent, tokens: refreshToken({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', refreshToken: stored, onRefreshToken: (rt) => void (stored = rt) }) });
    expect((await resumed(peers.apiUrl)).status).toBe(200);

    const service = createDPoPFetch({ keyPair: dpopKey, debug: true, onEvent, tokens: clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: 'svc', clientAssertionKey: assertionKeys, scope: 'api' }) });
    expect((await service(peers.apiUrl)).status).toBe(200);

    const kinds = secretsOnTheWire();
    // The list is what the check is worth: each kind is in it, with what this test knows.
    expect([...kinds.credential!]).toEqual(expect.arrayContaining([peers.clientSecret, expect.stringMatching(/^eyJ/)]));
    expect([...kinds.code!]).toEqual(expect.arrayContaining([code, login.codeVerifier]));
    expect([...kinds.token!]).toEqual(expect.arrayContaining([stored]));
    expect(kinds.token!.size).toBeGreaterThanOrEqual(6); // 4 access tokens, 2+ refresh tokens
    expect(kinds.signature!.size).toBeGreaterThanOrEqual(16); // proofs to both servers, assertions, tokens
    expect(events.filter((e) => e.type === 'proof').length).toBeGreaterThanOrEqual(8);
    const secrets = Object.values(kinds).flatMap((set) => [...set]);
    const text = JSON.stringify(events);
    for (const secret of secrets) expect(text.includes(secret), `an event carries a secret (${secret.slice(0, 6)}…)`).toBe(false);
    // And the check can fail: the same text with one secret in it is caught.
    expect(secrets.some((secret) => `${text}${stored}`.includes(secret))).toBe(true);
  });
});
