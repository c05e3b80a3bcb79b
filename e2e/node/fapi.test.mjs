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
/** @type {CryptoKeyPair} */
let clientKey;

beforeAll(async () => {
  clientKey = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']));
  const jwk = { ...(await crypto.subtle.exportKey('jwk', clientKey.publicKey)), kid: 'bank-1', alg: 'ES256', use: 'sig' };
  peers = await startPeers({
    authorizationCode: {},
    requirePar: true,
    accessTokenTTL: 3,
    fapi2Clients: ['bank.app'],
    clients: [{ client_id: 'bank.app', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [jwk] }, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [REDIRECT], scope: 'api', dpop_bound_access_tokens: true }],
    onExchange: (e) => wire.push(e),
  });
});
afterAll(() => peers?.close());

describe('README: a FAPI 2.0 client', () => {
  it('signs in (pushed, private_key_jwt), calls the API, refreshes, calls again: tokens bound to the DPoP key', async () => {
    const bank = { issuer: peers.issuer, clientId: 'bank.app', clientAssertionKey: clientKey, clientAssertionKid: 'bank-1', redirectUri: REDIRECT };
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
      expect((await jose.jwtVerify(form.client_assertion, clientKey.publicKey, { audience: peers.issuer })).payload.sub).toBe('bank.app');
    }
  });
});
