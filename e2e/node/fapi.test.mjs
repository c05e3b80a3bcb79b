// The README's FAPI 2.0 client (e2e/snippets/fapi.ts), from the built package, against
// oidc-provider with its FAPI 2.0 profile and PAR required: sign in, call the API, refresh,
// call again. What the server received is read from its own log and judged with jose.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { startPeers } from '../peers.mjs';
import { claimsOf, independentThumbprint } from '../snippets/flow.mjs';
import { afterCallback, signIn } from '../snippets/fapi.ts';
import { UserAgent } from '../../test/support/user-agent.ts';
import { generateKeyPair } from 'dpop-fetch';

const REDIRECT = 'http://127.0.0.1:9/callback';
/** @type {import('../peers.d.mts').Peers} */
let peers;
/** @type {import('../peers.d.mts').Exchange[]} */
const wire = [];
// FAPI 2.0 Security Profile §5.4.1: client assertions are signed with PS256, ES256 or EdDSA.
// Banks' consoles hand out RSA keys (PS256) as often as EC ones (ES256): one client of each.
/** @type {Record<'ES256' | 'PS256', CryptoKeyPair>} */
const clientKeys = /** @type {any} */ ({});
const ALGORITHMS = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  PS256: { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
};

beforeAll(async () => {
  const clients = [];
  for (const [alg, params] of /** @type {Array<['ES256' | 'PS256', any]>} */ (Object.entries(ALGORITHMS))) {
    const key = (clientKeys[alg] = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey(params, false, ['sign', 'verify'])));
    const jwk = { ...(await crypto.subtle.exportKey('jwk', key.publicKey)), kid: `bank-${alg}`, alg, use: 'sig' };
    clients.push({ client_id: `bank.${alg}`, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: alg, jwks: { keys: [jwk] }, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [REDIRECT], scope: 'api', dpop_bound_access_tokens: true });
  }
  peers = await startPeers({
    authorizationCode: {},
    requirePar: true,
    accessTokenTTL: 3,
    fapi2Clients: clients.map((c) => c.client_id),
    clients,
    onExchange: (e) => wire.push(e),
  });
});
afterAll(() => peers?.close());

describe.each(/** @type {const} */ (['ES256', 'PS256']))('README: a FAPI 2.0 client (%s client assertions)', (alg) => {
  it('signs in (pushed, private_key_jwt), calls the API, refreshes, calls again: tokens bound to the DPoP key', async () => {
    wire.length = 0;
    const clientKey = clientKeys[alg];
    const bank = { issuer: peers.issuer, clientId: `bank.${alg}`, clientAssertionKey: clientKey, clientAssertionKid: `bank-${alg}`, redirectUri: REDIRECT };
    const keyPair = await generateKeyPair();
    const login = await signIn(bank, keyPair);
    expect([...new URL(login.url).searchParams.keys()]).toEqual(['client_id', 'request_uri']);
    const api = afterCallback(bank, keyPair, await new UserAgent().navigate(login.url, REDIRECT), login);
    const first = claimsOf(await (await api(peers.apiUrl)).json());
    await new Promise((resolve) => setTimeout(resolve, 2_100)); // 3-second tokens are renewed after 1.25 s
    const second = claimsOf(await (await api(peers.apiUrl)).json());
    const jkt = await independentThumbprint(keyPair.publicKey);
    expect([JSON.parse(first.cnf).jkt, JSON.parse(second.cnf).jkt]).toEqual([jkt, jkt]);
    expect(second.jti).not.toBe(first.jti);
    const posts = wire.filter((e) => e.method === 'POST' && e.status < 300).map((e) => [new URL(e.url).pathname, Object.fromEntries(new URLSearchParams(e.requestBody))]);
    expect(posts.map(([path, form]) => `${path} ${form.grant_type ?? form.response_type}`)).toEqual(['/request code', '/token authorization_code', '/token refresh_token']);
    for (const [, form] of posts) {
      const { payload, protectedHeader } = await jose.jwtVerify(form.client_assertion, clientKey.publicKey, { audience: peers.issuer, algorithms: [alg] });
      expect([protectedHeader.alg, payload.sub]).toEqual([alg, `bank.${alg}`]);
    }
  });
});
