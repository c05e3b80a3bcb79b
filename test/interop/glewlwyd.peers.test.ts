// A second authorization server family: Glewlwyd (Debian's package, C), started and configured
// by e2e/glewlwyd.mjs, with the oauth4webapi resource server in front. Every grant an app uses,
// with Glewlwyd's own nonce policy (one nonce per client, replaced after 10 successful uses)
// and its default iat leeway (none into the future), also under parallel load.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { glewlwydInstalled, glewlwydVersion, startGlewlwyd, type Glewlwyd } from '../../e2e/glewlwyd.mjs';
import {
  authorizationCode,
  calculateThumbprint,
  clientCredentials,
  createDPoPFetch,
  exportPublicJwk,
  generateKeyPair,
  importClientKey,
  importKeyPair,
  refreshToken,
  type AssertionAlg,
  type TokenContext,
} from '../../src/index.ts';
import { createClock } from '../../src/clock.ts';
import { createNonceCache } from '../../src/nonce.ts';
import { caught } from '../helpers.ts';
import { callTwice, claimsOf, joseThumbprint, statuses, wire } from '../support/interop.ts';

if (!glewlwydInstalled()) {
  // No silent skip: CI installs both (.ci/run); a machine without them fails here, saying so.
  throw new Error('glewlwyd and sqlite3 are needed: apt-get install glewlwyd sqlite3 (as .ci/run does)');
}
const VERSION = glewlwydVersion();

const ALGS: AssertionAlg[] = ['RS256', 'PS256', 'ES256'];
const keys = Object.fromEntries(ALGS.map((alg) => [alg, alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 })])) as Record<string, { privateKey: KeyObject; publicKey: KeyObject }>;

let server: Glewlwyd;
beforeAll(async () => {
  server = await startGlewlwyd({
    // Client 1 for the flows, client 2 for the nonce-rotation count (Glewlwyd counts per client).
    clients: 2,
    // private_key_jwt clients, one per algorithm, their public keys as Glewlwyd stores them.
    extraClients: ALGS.map((alg) => ({
      client_id: `service-${alg}`,
      confidential: true,
      token_endpoint_auth_method: ['private_key_jwt'],
      token_endpoint_signing_alg: alg,
      authorization_type: ['client_credentials'],
      jwks: { keys: [{ ...keys[alg]!.publicKey.export({ format: 'jwk' }), kid: `${alg}-1`, alg, use: 'sig' }] },
    })),
  });
});
afterAll(() => server?.close());

const client = () => ({ tokenEndpoint: server.tokenEndpoint, clientId: server.clientId, clientSecret: server.clientSecret });

/** Logs in through the browser part of the code flow; returns what the token exchange needs. */
async function login(keyPair: CryptoKeyPair) {
  const start = await authorizationCode.start({ authorizationEndpoint: server.authorizationEndpoint, clientId: server.clientId, redirectUri: server.redirectUri, scope: server.scope, resource: server.resource, keyPair });
  const callback = await server.authorize(start.url);
  return { code: authorizationCode.parseCallback(callback, { state: start.state, issuer: server.issuer }), codeVerifier: start.codeVerifier, url: start.url };
}

describe(`Glewlwyd ${VERSION} · AS nonces: required, one per client, replaced after 10 uses · RS nonces: required, one per server`, () => {
  const expectBound = (r: Awaited<ReturnType<typeof callTwice>>, clientId: string) => {
    expect(r.status).toBe(200);
    expect(r.claims).toMatchObject({ iss: server.issuer, aud: server.resource, client_id: clientId, scope: 'api', cnf: JSON.stringify({ jkt: r.jkt }) });
    // Each new fetch meets the client's nonce for the first time: one demand, then the token.
    expect(statuses(r.first, server.tokenEndpoint)).toEqual([[400, 'use_dpop_nonce'], [200, 'DPoP']]);
    expect(statuses(r.first, server.apiUrl)).toEqual([[401, 'use_dpop_nonce'], [200, undefined]]);
    expect(r.second).toHaveLength(1);
  };

  it('client_credentials, client_secret_post → a DPoP token bound to the key; one nonce retry at the AS and one at the RS; then one request per call', async () => {
    expectBound(await callTwice(server.apiUrl, () => clientCredentials({ ...client(), scope: server.scope, resource: server.resource })), server.clientId);
  });

  it('client_credentials, client_secret_basic → the same, the secret sent in Authorization: Basic', async () => {
    expectBound(await callTwice(server.apiUrl, () => clientCredentials({ ...client(), authMethod: 'client_secret_basic', scope: server.scope, resource: server.resource })), server.clientId);
  });

  for (const alg of ALGS) {
    it(`client_credentials, private_key_jwt ${alg} → the same, with a fresh ${alg} client assertion on each attempt`, async () => {
      const clientAssertionKey = await importClientKey(keys[alg]!.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { alg });
      expectBound(await callTwice(server.apiUrl, () => clientCredentials({ tokenEndpoint: server.tokenEndpoint, clientId: `service-${alg}`, clientAssertionKey, clientAssertionKid: `${alg}-1`, scope: server.scope, resource: server.resource })), `service-${alg}`);
    });
  }

  it('authorization_code with PKCE (S256) and dpop_jkt, confidential client → the code exchanged with a proof by the same key; a token for the user, bound to the key', async () => {
    const keyPair = await generateKeyPair();
    const { code, codeVerifier, url } = await login(keyPair);
    expect(new URL(url).searchParams.get('dpop_jkt')).toBe(await joseThumbprint(keyPair));
    const refreshTokens: string[] = [];
    const r = await callTwice(server.apiUrl, () => authorizationCode({ ...client(), redirectUri: server.redirectUri, code, codeVerifier, onRefreshToken: (rt) => void refreshTokens.push(rt) }), keyPair);
    expectBound(r, server.clientId);
    expect(r.claims.sub).not.toBe(server.clientId); // the user's subject, not the client's
    expect(refreshTokens).toHaveLength(1);
  });

  it('refresh_token, bound to the key and rotated → a new access token for the same key; under another key the refresh token is refused (403 invalid_dpop_proof)', async () => {
    const keyPair = await generateKeyPair();
    const { code, codeVerifier } = await login(keyPair);
    let saved = '';
    const keep = (rt: string) => void (saved = rt);
    await (await createDPoPFetch({ keyPair, tokens: authorizationCode({ ...client(), redirectUri: server.redirectUri, code, codeVerifier, onRefreshToken: keep }) })(server.apiUrl)).body?.cancel();
    const afterCode = saved;

    const other = await generateKeyPair();
    const stranger = await caught(() => createDPoPFetch({ keyPair: other, tokens: refreshToken({ ...client(), refreshToken: saved }) })(server.apiUrl));
    expect(stranger).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_dpop_proof', status: 403 });

    const r = await callTwice(server.apiUrl, () => refreshToken({ ...client(), refreshToken: afterCode, onRefreshToken: keep }), keyPair);
    expectBound(r, server.clientId);
    expect(saved).not.toBe(afterCode); // rotated, and handed to the app
  });
});

describe(`Glewlwyd ${VERSION}: what is particular to it`, () => {
  it('a nonce replaced on a 200 (after 10 uses) → learned from that 200: 12 token requests cost one nonce demand in all', async () => {
    const { clientId, clientSecret } = server.clients[1]!;
    const { fetch, hops } = wire();
    const keyPair = await generateKeyPair();
    const context: TokenContext = { keyPair, fetch, nonces: createNonceCache(), clock: createClock(), requireDPoP: true };
    const source = clientCredentials({ tokenEndpoint: server.tokenEndpoint, clientId, clientSecret, scope: server.scope, resource: server.resource });
    for (let i = 0; i < 12; i++) await source.getToken(context);
    expect(hops.map((h) => [h.status, h.error])).toEqual([[400, 'use_dpop_nonce'], ...Array(12).fill([200, undefined])]);
    const replaced = hops.filter((h) => h.status === 200 && h.nonce);
    expect(replaced).toHaveLength(1);
    expect(hops.indexOf(replaced[0]!)).toBe(11); // the 11th success brought the next nonce
    expect(replaced[0]!.nonce).not.toBe(hops[0]!.nonce);
  });

  it('keys whose x or y starts with a 0x00 byte → our thumbprint is jose\'s, Glewlwyd binds the token to it, and the RS accepts it', async () => {
    for (const coordinate of ['x', 'y'] as const) {
      let pem: string;
      let jwk: jose.JWK;
      do {
        const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        jwk = pair.publicKey.export({ format: 'jwk' }) as jose.JWK;
        pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
      } while (Buffer.from(jwk[coordinate]!, 'base64url')[0] !== 0);
      const keyPair = await importKeyPair(pem);
      const exported = await exportPublicJwk(keyPair);
      expect(Buffer.from(exported[coordinate], 'base64url')).toHaveLength(32); // the zero byte is kept
      expect(exported).toEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
      expect(await calculateThumbprint(keyPair)).toBe(await jose.calculateJwkThumbprint(jwk));
      const r = await callTwice(server.apiUrl, () => clientCredentials({ ...client(), scope: server.scope, resource: server.resource }), keyPair);
      expect(r.status).toBe(200);
      expect(r.claims.cnf).toBe(JSON.stringify({ jkt: await jose.calculateJwkThumbprint(jwk) }));
    }
  });

  it('a client whose clock is 10 minutes slow → Glewlwyd refuses the stale iat (403 invalid_dpop_proof) before it demands its nonce; the clock is learnt from its Date, then the nonce: a token after three requests', async () => {
    const { fetch, hops } = wire();
    const api = createDPoPFetch({ keyPair: await generateKeyPair(), fetch, requireDPoP: true, now: () => Date.now() - 600_000, tokens: clientCredentials({ ...client(), scope: server.scope, resource: server.resource }) });
    expect((await api(server.apiUrl)).status).toBe(200);
    expect(statuses(hops, server.tokenEndpoint)).toEqual([[403, 'invalid_dpop_proof'], [400, 'use_dpop_nonce'], [200, 'DPoP']]);
  });

  it('its JWKS → the signing key the harness chose has 32-byte coordinates (Glewlwyd drops a leading zero byte, which no verifier accepts)', async () => {
    const { keys } = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<{ x: string; y: string; alg: string }> };
    expect(keys).toHaveLength(1);
    expect(keys[0]!.alg).toBe('ES256');
    expect([Buffer.from(keys[0]!.x, 'base64url').length, Buffer.from(keys[0]!.y, 'base64url').length]).toEqual([32, 32]);
  });
});

describe(`Glewlwyd ${VERSION} under load, default iat leeway (none into the future)`, () => {
  let busy: Glewlwyd;
  beforeAll(async () => {
    // 2-second tokens, so that the fetch renews about every half second.
    busy = await startGlewlwyd({ accessTokenTTL: 2 });
  });
  afterAll(() => busy?.close());

  it('40 requests in flight for 5 s, 2-second tokens renewed ahead of expiry → no request fails; one nonce demand, then nonces learned from 200s', async () => {
    // One fetch, so one token request at a time: Glewlwyd on sqlite fails concurrent token
    // requests now and then (a 500, its own race; see e2e/glewlwyd.mjs).
    const keyPair = await generateKeyPair();
    const { fetch, hops } = wire();
    const api = createDPoPFetch({ keyPair, fetch, requireDPoP: true, tokens: clientCredentials({ ...client(), tokenEndpoint: busy.tokenEndpoint, clientId: busy.clientId, clientSecret: busy.clientSecret, scope: busy.scope, resource: busy.resource }) });
    const until = Date.now() + 5000;
    const seen: number[] = [];
    const jkts = new Set<string>();
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        while (Date.now() < until) {
          const res = await api(busy.apiUrl);
          seen.push(res.status);
          if (res.status === 200) jkts.add(JSON.parse(claimsOf(await res.json()).cnf!).jkt);
          else await res.body?.cancel();
        }
      }),
    );
    expect(seen.filter((s) => s !== 200)).toEqual([]);
    expect([...jkts]).toEqual([await joseThumbprint(keyPair)]);
    const token = statuses(hops, busy.tokenEndpoint);
    // Many calls per token, however busy the machine (no count of calls per second is asserted).
    expect(seen.length).toBeGreaterThan(10 * token.length);
    expect(token[0]).toEqual([400, 'use_dpop_nonce']);
    expect(token.slice(1).filter(([status]) => status !== 200)).toEqual([]);
    expect(token.length).toBeGreaterThan(8);
  });

  it('400 token requests one after another → none refused: a proof\'s iat never lands in the server\'s next second, though its clock runs a few ms behind', async () => {
    // Glewlwyd refuses iat > now (time(), a coarse clock up to a few ms behind Date.now()):
    // without care, about one proof in 150 signed just after a second boundary is refused.
    const { fetch, hops } = wire();
    const context: TokenContext = { keyPair: await generateKeyPair(), fetch, nonces: createNonceCache(), clock: createClock(), requireDPoP: true };
    const source = clientCredentials({ tokenEndpoint: busy.tokenEndpoint, clientId: busy.clientId, clientSecret: busy.clientSecret, scope: busy.scope, resource: busy.resource });
    const refused: unknown[] = [];
    for (let i = 0; i < 400; i++) await source.getToken(context).catch((err: unknown) => void refused.push(err));
    expect(refused).toEqual([]);
    expect(hops.filter((h) => h.status === 200)).toHaveLength(400);
  });
});
