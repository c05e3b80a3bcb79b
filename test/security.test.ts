// Security properties, each a test. The wire is captured on every server (the real peers'
// exchange log, and two fault servers standing for a third-party API that may get the token and
// an outsider that must not) and grepped; the peers (oidc-provider, oauth4webapi) judge the
// proofs and tokens. The IndexedDB round trip of a non-extractable key is proven in Chromium by
// the browser suite, not here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import * as jose from 'jose';
import {
  authorizationCode,
  clientCredentials,
  createDPoPFetch,
  generateKeyPair,
  importKeyPair,
  OAuthError,
  refreshToken,
  type DPoPEvent,
} from '../src/index.ts';
import { startPeers } from '../e2e/peers.mjs';
import type { Exchange, Peers } from '../e2e/peers.d.mts';
import { sendJson, startFaultServer, type FaultServer } from './support/fault-server.ts';
import { expectNoSecrets, failOnUnhandledRejections } from './support/leaks.ts';

failOnUnhandledRejections();

describe('private keys', () => {
  const { privateKey: nodeKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const inputs: [string, () => unknown][] = [
    ['PKCS#8 PEM', () => nodeKey.export({ format: 'pem', type: 'pkcs8' })],
    ['SEC1 PEM', () => nodeKey.export({ format: 'pem', type: 'sec1' })],
    ['PKCS#8 DER', () => new Uint8Array(nodeKey.export({ format: 'der', type: 'pkcs8' }))],
    ['SEC1 DER', () => new Uint8Array(nodeKey.export({ format: 'der', type: 'sec1' }))],
    ['a private JWK', () => nodeKey.export({ format: 'jwk' })],
    ['a private JWK as JSON text', () => JSON.stringify(nodeKey.export({ format: 'jwk' }))],
  ];
  const cannotLeave = async (key: CryptoKey) => {
    expect(key.extractable).toBe(false);
    for (const format of ['pkcs8', 'jwk'] as const) expect(await crypto.subtle.exportKey(format, key).then(() => 'exported', (err: DOMException) => err.name)).toMatch(/^InvalidAccess(Error|Exception)$/); // Node 20 says Exception
  };

  it('generateKeyPair() → the private key is non-extractable: WebCrypto refuses to export it as PKCS#8 or JWK', async () => {
    await cannotLeave((await generateKeyPair()).privateKey);
  });

  it.for(inputs)('importKeyPair(%s) → the private key is non-extractable: WebCrypto refuses to export it', async ([, input]) => {
    await cannotLeave((await importKeyPair(input() as never)).privateKey);
  });

  it('extractable: true (the negative control) → the same calls return an exportable private key', async () => {
    expect((await crypto.subtle.exportKey('jwk', (await generateKeyPair({ extractable: true })).privateKey)).d).toBeTypeOf('string');
    expect((await crypto.subtle.exportKey('jwk', (await importKeyPair(inputs[0]![1]() as string, { extractable: true })).privateKey)).d).toBe(nodeKey.export({ format: 'jwk' }).d);
  });
});

describe('http: token endpoints', () => {
  const sources = {
    clientCredentials: (tokenEndpoint: string, allowInsecureHttp?: boolean) => clientCredentials({ tokenEndpoint, clientId: 'c', clientSecret: 's', allowInsecureHttp }),
    refreshToken: (tokenEndpoint: string, allowInsecureHttp?: boolean) => refreshToken({ tokenEndpoint, clientId: 'c', refreshToken: 'rt', allowInsecureHttp }),
    authorizationCode: (tokenEndpoint: string, allowInsecureHttp?: boolean) =>
      authorizationCode({ tokenEndpoint, clientId: 'c', redirectUri: 'https://app.example/cb', code: 'code', codeVerifier: 'v'.repeat(43), allowInsecureHttp }),
  };
  const refused = ['http://as.example/token', 'http://10.0.0.1/token', 'http://0.0.0.0/token', 'http://127.0.0.1.nip.io/token', 'http://localhost.as.example/token', 'http://[::2]/token'];
  const loopback = ['http://127.0.0.1:8080/token', 'http://127.1.2.3/token', 'http://localhost/token', 'http://as.localhost:3000/token', 'http://[::1]:8443/token'];

  it.for(Object.keys(sources))('%s with an http: token endpoint on a non-loopback host → TypeError ERR_INVALID_ARG_VALUE before any request', (name) => {
    const make = sources[name as keyof typeof sources];
    for (const url of refused) {
      expect(() => make(url), url).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"options.tokenEndpoint" must be an https: URL') }));
    }
  });

  it.for(Object.keys(sources))('%s with http: on loopback, or anywhere with allowInsecureHttp: true, or https: → accepted', (name) => {
    const make = sources[name as keyof typeof sources];
    for (const url of loopback) expect(() => make(url), url).not.toThrow();
    for (const url of refused) expect(() => make(url, true), url).not.toThrow();
    expect(() => make('https://as.example/token')).not.toThrow();
  });
});

describe('credentials in endpoint URLs', () => {
  const endpoints = {
    'clientCredentials tokenEndpoint': (url: string) => clientCredentials({ tokenEndpoint: url, clientId: 'c', clientSecret: 's' }),
    'refreshToken tokenEndpoint': (url: string) => refreshToken({ tokenEndpoint: url, clientId: 'c', refreshToken: 'rt' }),
    'authorizationCode tokenEndpoint': (url: string) => authorizationCode({ tokenEndpoint: url, clientId: 'c', redirectUri: 'https://app.example/cb', code: 'code', codeVerifier: 'v'.repeat(43) }),
    'authorizationCode.start authorizationEndpoint': (url: string) => authorizationCode.start({ authorizationEndpoint: url, clientId: 'c', redirectUri: 'https://app.example/cb', keyPair: undefined as never }),
  };
  it.for(Object.keys(endpoints))('%s with user:password@ or user@ in the URL → TypeError ERR_INVALID_ARG_VALUE naming clientSecret and authMethod, the password nowhere in it', async (name) => {
    const make = endpoints[name as keyof typeof endpoints];
    for (const url of ['https://client:pw-Secret-1@as.example/token', 'https://client@as.example/token', 'https://:pw-Secret-1@as.example/token', 'http://client:pw-Secret-1@127.0.0.1:8080/token']) {
      const err = await Promise.resolve().then(() => make(url)).then(() => undefined, (e: unknown) => e);
      expect(err, url).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/must not have a fragment or credentials .*clientSecret, with authMethod/) });
      expect(JSON.stringify({ ...(err as object), message: (err as Error).message, stack: (err as Error).stack })).not.toContain('pw-Secret-1');
    }
  });
});

describe('what goes over the wire, against the real peers', () => {
  const random = crypto.randomUUID();
  const postSecret = `post-${random}`;
  const basicSecret = `b:a+s/ic &=? ${random}`;
  const wrongSecret = `wrong-${random}`;
  const form = (s: string) => new URLSearchParams({ s }).toString().slice(2);
  const client = (id: string, secret: string, method: string) => ({
    client_id: id,
    client_secret: secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: method,
    scope: 'api',
  });
  /** Every form in which each secret can appear on the wire. */
  const secretForms = {
    post: [postSecret, form(postSecret)],
    basic: [form(basicSecret), Buffer.from(`sec.basic:${form(basicSecret)}`).toString('base64')],
    wrong: [wrongSecret, form(wrongSecret)],
  };

  let peers: Peers;
  let third: FaultServer; // a third-party API in allowedOrigins
  let outsider: FaultServer; // an origin not in allowedOrigins
  const exchanges: Exchange[] = [];
  const events: DPoPEvent[] = [];
  const errors: unknown[] = [];
  /** Every request to every server: where it went and all its text (URL, headers, body). */
  let wire: { where: 'as' | 'rs' | 'third' | 'outsider'; url: string; text: string; proof?: string }[] = [];

  beforeAll(async () => {
    peers = await startPeers({
      clients: [client('sec.post', postSecret, 'client_secret_post'), client('sec.basic', basicSecret, 'client_secret_basic')],
      rsNonceRotateMs: 300, // so the run below meets a nonce retry at the resource server too
      onExchange: (exchange) => exchanges.push(exchange),
    });
    [third, outsider] = await Promise.all([startFaultServer(), startFaultServer()]);
    third.on('/api', (ctx) => sendJson(ctx.res, 200, { ok: true }));
    third.on('/hop', (ctx) => void ctx.res.writeHead(302, { location: outsider.url('/landing') }).end());
    outsider.on('/landing', (ctx) => sendJson(ctx.res, 200, { ok: true }));
    outsider.on('/direct', (ctx) => sendJson(ctx.res, 200, { ok: true }));

    const keyPair = await generateKeyPair();
    const allowedOrigins = [new URL(peers.resource).origin, third.origin];
    const make = (clientId: string, clientSecret: string, authMethod: 'client_secret_post' | 'client_secret_basic') =>
      createDPoPFetch({ keyPair, allowedOrigins, onEvent: (e) => events.push(e), debug: true, tokens: clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId, clientSecret, authMethod, scope: 'api' }) });
    for (const api of [make('sec.post', postSecret, 'client_secret_post'), make('sec.basic', basicSecret, 'client_secret_basic')]) {
      for (const res of [await api(peers.apiUrl), await api(peers.apiUrl)]) expect(res.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 350)); // the resource server's nonce is now stale
      expect((await api(peers.echoUrl, { method: 'POST', body: JSON.stringify({ hello: 'world' }), headers: { 'content-type': 'application/json' } })).status).toBe(200);
      expect((await api(third.url('/api'))).status).toBe(200);
      expect((await api(third.url('/hop'))).status).toBe(200); // redirected to the outsider
      expect((await api(outsider.url('/direct'))).status).toBe(200);
    }
    const refusedClient = make('sec.post', wrongSecret, 'client_secret_post');
    errors.push(await refusedClient(peers.apiUrl).catch((err: unknown) => err));

    wire = [
      ...exchanges.map((e) => ({ where: e.server, url: e.url, text: [e.url, JSON.stringify(e.requestHeaders), e.requestBody].join('\n'), proof: e.requestHeaders.dpop as string | undefined })),
      ...third.requests.map((r) => ({ where: 'third' as const, url: r.url, text: [r.url, r.rawHeaders.join('\n'), r.body].join('\n'), proof: r.headers.dpop })),
      ...outsider.requests.map((r) => ({ where: 'outsider' as const, url: r.url, text: [r.url, r.rawHeaders.join('\n'), r.body].join('\n'), proof: r.headers.dpop })),
    ];
  });
  afterAll(async () => {
    await Promise.all([peers?.close(), third?.close(), outsider?.close()]);
  });

  it('client secrets (post, basic, a wrong one) → sent only to the token endpoint, in every form (raw, form-encoded, Basic base64), and never in an error or event', () => {
    const tokenEndpoint = new URL(peers.tokenEndpoint);
    for (const [name, forms] of Object.entries(secretForms)) {
      const carrying = wire.filter((w) => forms.some((f) => w.text.includes(f)));
      expect(carrying.length, `${name} secret was never sent: the check would be vacuous`).toBeGreaterThan(0);
      expect(carrying.filter((w) => w.where !== 'as' || new URL(w.url).pathname !== tokenEndpoint.pathname).map((w) => w.url), `${name} secret`).toEqual([]);
    }
    expect(errors[0]).toBeInstanceOf(OAuthError);
    expect((errors[0] as OAuthError).error).toBe('invalid_client');
    expectNoSecrets({ errors, events }, Object.values(secretForms).flat());
  });

  it('access tokens → sent only to allowedOrigins (the resource server and the allowed third party), never to the outsider, even through a redirect', () => {
    const issued = exchanges.filter((e) => e.server === 'as' && e.status === 200).map((e) => JSON.parse(e.responseBody).access_token as string);
    expect(issued.length).toBeGreaterThanOrEqual(2);
    const carrying = wire.filter((w) => issued.some((t) => w.text.includes(t)));
    expect(new Set(carrying.map((w) => w.where))).toEqual(new Set(['rs', 'third']));
    expect(outsider.requests).toHaveLength(4); // two direct calls and two redirects landed there
    expect(outsider.requests.every((r) => r.headers.authorization === undefined && r.headers.dpop === undefined)).toBe(true);
    expectNoSecrets({ errors, events }, issued);
  });

  it('every proof of the run, retries included (nonce demands at both servers) → a distinct jti and a distinct JWT, each verified by jose', async () => {
    const proofs = wire.map((w) => w.proof).filter((p): p is string => typeof p === 'string');
    expect(events.filter((e) => e.type === 'nonce-retry').map((e) => (e as { server: string }).server)).toEqual(expect.arrayContaining(['token', 'resource']));
    const jtis = await Promise.all(proofs.map(async (p) => (await jose.jwtVerify(p, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] })).payload.jti));
    expect(proofs.length).toBeGreaterThanOrEqual(15); // 3 clients × (token + retry, API calls + retries, third party)
    expect(new Set(jtis).size).toBe(proofs.length);
    expect(new Set(proofs).size).toBe(proofs.length);
    // The debug events saw the same proofs, each once.
    const seen = events.filter((e) => e.type === 'proof').map((e) => (e as { claims: { jti: string } }).claims.jti);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('a proof sent a second time (the negative control) → the resource server refuses it: 401 invalid_dpop_proof, jti replayed', async () => {
    const used = exchanges.find((e) => e.server === 'rs' && e.status === 200 && e.url === peers.apiUrl)!;
    const res = await fetch(peers.apiUrl, { headers: { authorization: String(used.requestHeaders.authorization), dpop: String(used.requestHeaders.dpop) } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/invalid_dpop_proof.*jti replayed/);
  });
});
