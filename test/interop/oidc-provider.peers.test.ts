// The first authorization server family, oidc-provider (e2e/peers.mjs), through every grant an
// app uses, with the same flows and checks as Glewlwyd's suite (test/support/interop.ts): the
// README's interop table is generated from both (e2e/interop-table.mjs).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { startPeers, type Peers } from '../../e2e/peers.mjs';
import { authorizationCode, clientCredentials, createDPoPFetch, generateKeyPair, importClientKey, refreshToken, type AssertionAlg } from '../../src/index.ts';
import { callTwice, statuses } from '../support/interop.ts';
import { UserAgent } from '../support/user-agent.ts';

const VERSION = (createRequire(import.meta.url)('oidc-provider/package.json') as { version: string }).version;
const REDIRECT = 'http://127.0.0.1:9/callback';
const ALGS: AssertionAlg[] = ['RS256', 'PS256', 'ES256'];
const keys = Object.fromEntries(ALGS.map((alg) => [alg, alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 })])) as Record<string, { privateKey: KeyObject; publicKey: KeyObject }>;

let peers: Peers;
beforeAll(async () => {
  peers = await startPeers({
    authorizationCode: {},
    clients: [
      { client_id: 'spa', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [REDIRECT], scope: 'api', dpop_bound_access_tokens: true },
      ...ALGS.map((alg) => ({
        client_id: `service.${alg}`,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: alg,
        jwks: { keys: [{ ...keys[alg]!.publicKey.export({ format: 'jwk' }), kid: `${alg}-1`, alg, use: 'sig' }] },
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'api',
      })),
    ],
  });
});
afterAll(() => peers?.close());

/** The browser part of the code flow: start, log in and consent (oidc-provider's interactions), callback. */
async function login(keyPair: CryptoKeyPair) {
  const start = await authorizationCode.start({ authorizationEndpoint: peers.authorizationEndpoint, clientId: 'spa', redirectUri: REDIRECT, scope: 'api', keyPair });
  const callback = await new UserAgent().navigate(start.url, REDIRECT);
  return { code: authorizationCode.parseCallback(callback, { state: start.state, issuer: peers.issuer }), codeVerifier: start.codeVerifier };
}

describe(`oidc-provider ${VERSION} · AS nonces: required, one per server, a new one every minute · RS nonces: required, one per server`, () => {
  const expectBound = (r: Awaited<ReturnType<typeof callTwice>>, clientId: string) => {
    expect(r.status).toBe(200);
    expect(r.claims).toMatchObject({ iss: peers.issuer, aud: peers.resource, client_id: clientId, scope: 'api', cnf: JSON.stringify({ jkt: r.jkt }) });
    expect(statuses(r.first, peers.tokenEndpoint)).toEqual([[400, 'use_dpop_nonce'], [200, 'DPoP']]);
    expect(statuses(r.first, peers.apiUrl)).toEqual([[401, 'use_dpop_nonce'], [200, undefined]]);
    expect(r.second).toHaveLength(1);
  };

  it('client_credentials, client_secret_post → a DPoP token bound to the key; one nonce retry at the AS and one at the RS; then one request per call', async () => {
    expectBound(await callTwice(peers.apiUrl, () => clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: peers.clientId, clientSecret: peers.clientSecret, scope: 'api' })), peers.clientId);
  });

  it('client_credentials, client_secret_basic → the same, the secret (with : + / & = ? and a space) form-encoded in Authorization: Basic', async () => {
    const { clientId, clientSecret } = peers.basicClient;
    expectBound(await callTwice(peers.apiUrl, () => clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId, clientSecret, authMethod: 'client_secret_basic', scope: 'api' })), clientId);
  });

  for (const alg of ALGS) {
    it(`client_credentials, private_key_jwt ${alg} → the same, with a fresh ${alg} client assertion on each attempt`, async () => {
      const clientAssertionKey = await importClientKey(keys[alg]!.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { alg });
      expectBound(await callTwice(peers.apiUrl, () => clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: `service.${alg}`, clientAssertionKey, clientAssertionKid: `${alg}-1`, scope: 'api' })), `service.${alg}`);
    });
  }

  it('authorization_code with PKCE (S256) and dpop_jkt, public client → the code exchanged with a proof by the same key; a token for the user, bound to the key', async () => {
    const r = await callTwice(peers.apiUrl, async (keyPair) => authorizationCode({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', redirectUri: REDIRECT, ...(await login(keyPair)) }));
    expectBound(r, 'spa');
    expect(r.claims.sub).toBe('alice');
  });

  it('refresh_token, bound to the key and rotated → a new access token for the same key; the new refresh token handed to the app', async () => {
    const keyPair = await generateKeyPair();
    let saved = '';
    const keep = (rt: string) => void (saved = rt);
    await (await createDPoPFetch({ keyPair, tokens: authorizationCode({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', redirectUri: REDIRECT, ...(await login(keyPair)), onRefreshToken: keep }) })(peers.apiUrl)).body?.cancel();
    const afterCode = saved;
    const r = await callTwice(peers.apiUrl, () => refreshToken({ tokenEndpoint: peers.tokenEndpoint, clientId: 'spa', refreshToken: afterCode, onRefreshToken: keep }), keyPair);
    expectBound(r, 'spa');
    expect(saved).not.toBe(afterCode);
  });
});
