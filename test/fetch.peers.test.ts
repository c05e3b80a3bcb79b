// createDPoPFetch against real peers: oidc-provider (DPoP + nonces required, JWT access tokens)
// and a resource server that validates with oauth4webapi, demands its own nonce and rejects
// replayed jtis. Round trips are counted at the servers, not by our code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { startPeers, type Peers } from '../e2e/peers.mjs';
import {
  calculateThumbprint,
  clientCredentials,
  createDPoPFetch,
  generateKeyPair,
  OAuthError,
  type DPoPEvent,
} from '../src/index.ts';
import { caught } from './helpers.ts';

let peers: Peers;
beforeAll(async () => {
  peers = await startPeers();
});
afterAll(() => peers?.close());

function client(overrides: Partial<Parameters<typeof clientCredentials>[0]> = {}, keyPair?: CryptoKeyPair, extra = {}) {
  return (async () => {
    const pair = keyPair ?? (await generateKeyPair());
    const tokens = clientCredentials({
      tokenEndpoint: peers.tokenEndpoint,
      clientId: peers.clientId,
      clientSecret: peers.clientSecret,
      scope: peers.scope,
      ...overrides,
    });
    return { keyPair: pair, api: createDPoPFetch({ keyPair: pair, tokens, ...extra }) };
  })();
}

function claimsOf(body: Array<{ type: string; value: string }>): Record<string, string> {
  return Object.fromEntries(body.map((c) => [c.type, c.value]));
}

describe('createDPoPFetch with oidc-provider and an oauth4webapi resource server', () => {
  it('first request: 2 token + 2 API round trips, 200, token bound to our thumbprint', async () => {
    const { api, keyPair } = await client();
    peers.resetCounts();
    const res = await api(peers.apiUrl);
    expect(res.status).toBe(200);
    expect(peers.counts).toEqual({ token: 2, api: 2 });
    const claims = claimsOf(await res.json());
    const jkt = await calculateThumbprint(keyPair);
    expect(JSON.parse(claims.cnf!)).toEqual({ jkt });
    // Independently: jose's thumbprint of the public key, and the server-side scheme.
    expect(jkt).toBe(await jose.calculateJwkThumbprint(await crypto.subtle.exportKey('jwk', keyPair.publicKey) as jose.JWK));
    expect(claims.authorization_scheme).toBe('DPoP');
  });

  it('later requests: one round trip each, no token request', async () => {
    const { api } = await client();
    await api(peers.apiUrl);
    peers.resetCounts();
    for (let i = 0; i < 5; i++) expect((await api(peers.apiUrl)).status).toBe(200);
    expect(peers.counts).toEqual({ token: 0, api: 5 });
  });

  it('50 concurrent first requests on a fresh client: one token acquisition, all succeed', async () => {
    const { api } = await client();
    peers.resetCounts();
    const results = await Promise.all(Array.from({ length: 50 }, () => api(peers.apiUrl)));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(peers.counts.token).toBeLessThanOrEqual(2);
    // One request learns the resource server's nonce while the others wait for it.
    expect(peers.counts.api).toBeLessThanOrEqual(51);
    await Promise.all(results.map((r) => r.body?.cancel()));
  });

  it('short-lived tokens are renewed across expiry with no request failing', async () => {
    const shortPeers = await startPeers({ accessTokenTTL: 2 });
    try {
      const events: DPoPEvent[] = [];
      const api = createDPoPFetch({
        keyPair: await generateKeyPair(),
        tokens: clientCredentials({ tokenEndpoint: shortPeers.tokenEndpoint, clientId: shortPeers.clientId, clientSecret: shortPeers.clientSecret, scope: 'api' }),
        onEvent: (e) => events.push(e),
      });
      const statuses: number[] = [];
      const until = Date.now() + 5_500;
      while (Date.now() < until) {
        const res = await api(shortPeers.apiUrl);
        statuses.push(res.status);
        await res.body?.cancel();
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(statuses.every((s) => s === 200)).toBe(true);
      const tokens = events.filter((e) => e.type === 'token');
      expect(tokens.length).toBeGreaterThanOrEqual(3); // 2 s tokens over 5.5 s
      expect(tokens.slice(1).every((e) => e.type === 'token' && e.renewal)).toBe(true);
      expect(events.some((e) => e.type === 'token-rejected')).toBe(false); // renewed ahead, not after a 401
    } finally {
      await shortPeers.close();
    }
  });

  it('renewBefore: 60 with 60-second tokens → capped at a quarter of the lifetime: 10 calls, one token acquisition', async () => {
    const minute = await startPeers({ accessTokenTTL: 60 });
    try {
      const events: DPoPEvent[] = [];
      const api = createDPoPFetch({
        keyPair: await generateKeyPair(),
        renewBefore: 60,
        tokens: clientCredentials({ tokenEndpoint: minute.tokenEndpoint, clientId: minute.clientId, clientSecret: minute.clientSecret, scope: 'api' }),
        onEvent: (e) => events.push(e),
      });
      for (let i = 0; i < 10; i++) {
        const res = await api(minute.apiUrl);
        expect(res.status).toBe(200);
        await res.body?.cancel();
      }
      expect(events.filter((e) => e.type === 'token')).toHaveLength(1);
      expect(minute.counts).toEqual({ token: 2, api: 11 }); // one nonce retry at each server
    } finally {
      await minute.close();
    }
  });

  it('POST and PUT bodies (JSON, form, binary) arrive intact after a nonce retry', async () => {
    const bytes = new Uint8Array((await import('node:crypto')).randomBytes(70_000));
    const form = new URLSearchParams({ a: '1 & 2', b: 'ü=?' });
    const bodies: Array<[string, RequestInit, string, Uint8Array]> = [
      ['POST', { body: JSON.stringify({ hello: 'wörld' }), headers: { 'content-type': 'application/json' } }, 'application/json', new TextEncoder().encode(JSON.stringify({ hello: 'wörld' }))],
      ['PUT', { body: form }, 'application/x-www-form-urlencoded;charset=UTF-8', new TextEncoder().encode(form.toString())],
      ['POST', { body: bytes, headers: { 'content-type': 'application/octet-stream' } }, 'application/octet-stream', bytes],
      ['PUT', { body: new Blob([bytes]) }, '', bytes],
    ];
    for (const [method, init, contentType, expected] of bodies) {
      // A fresh client each time, so each body meets the resource server's nonce demand.
      const { api } = await client();
      peers.resetCounts();
      const res = await api(peers.echoUrl, { method, ...init });
      expect(res.status, method).toBe(200);
      expect(peers.counts, 'the body went through a nonce retry').toEqual({ token: 2, api: 2 });
      const echo = await res.json();
      expect(echo.method).toBe(method);
      if (contentType) expect(echo.contentType).toBe(contentType);
      expect(Buffer.from(echo.bodyBase64, 'base64').equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('client_secret_basic with a secret containing : + / & = ? and a space', async () => {
    expect(peers.basicClient.clientSecret).toMatch(/[:+/&=? ]/);
    const { api } = await client({ clientId: peers.basicClient.clientId, clientSecret: peers.basicClient.clientSecret, authMethod: 'client_secret_basic' });
    const res = await api(peers.apiUrl);
    expect(res.status).toBe(200);
    expect(claimsOf(await res.json()).client_id).toBe(peers.basicClient.clientId);
  });

  it('a wrong secret gives an OAuthError invalid_client that does not contain the secret', async () => {
    const secret = 'wrong-secret-Zx9!';
    const { api } = await client({ clientSecret: secret });
    const err = await caught(() => api(peers.apiUrl));
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_client', status: 401 });
    expect(err.message).toMatch(/invalid_client.*Check clientId, clientSecret and authMethod/);
    const everything = JSON.stringify({ ...err, message: err.message, stack: err.stack, cause: String(err.cause) });
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(encodeURIComponent(secret));
  });

  it('a server that demands a new nonce on every attempt gets exactly one retry, then the 401', async () => {
    const stubborn = await startPeers({ rsNonce: 'always' });
    try {
      const api = createDPoPFetch({
        keyPair: await generateKeyPair(),
        tokens: clientCredentials({ tokenEndpoint: stubborn.tokenEndpoint, clientId: stubborn.clientId, clientSecret: stubborn.clientSecret, scope: 'api' }),
      });
      const res = await api(stubborn.apiUrl);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/use_dpop_nonce/);
      expect(stubborn.counts).toEqual({ token: 2, api: 2 });
    } finally {
      await stubborn.close();
    }
  });

  it('a token obtained elsewhere and sent with Authorization: DPoP gets a matching proof', async () => {
    const keyPair = await generateKeyPair();
    // Get a token through our client, then use it through a source-less client with the same key.
    let token = '';
    const spy = createDPoPFetch({
      keyPair,
      tokens: clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: 'api' }),
      fetch: async (input, init) => {
        const req = new Request(input, init);
        const auth = req.headers.get('authorization');
        if (auth?.startsWith('DPoP ')) token = auth.slice(5);
        return fetch(req);
      },
    });
    await spy(peers.apiUrl);
    const plain = createDPoPFetch({ keyPair });
    const res = await plain(peers.apiUrl, { headers: { authorization: `DPoP ${token}` } });
    expect(res.status).toBe(200);
  });
});
