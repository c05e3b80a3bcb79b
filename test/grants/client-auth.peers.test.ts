// private_key_jwt with RSA keys (RS256, PS256) as well as ES256, judged by oidc-provider clients
// registered for each algorithm, and by jose. The keys are made by node:crypto (OpenSSL) and
// imported with importClientKey, as a user imports the PEM their identity provider gave them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { startPeers, type Exchange, type Peers } from '../../e2e/peers.mjs';
import { clientCredentials, createDPoPFetch, generateKeyPair, importClientKey, OAuthError, type AssertionAlg, type TokenContext } from '../../src/index.ts';
import { createClock } from '../../src/clock.ts';
import { createNonceCache } from '../../src/nonce.ts';
import { caught } from '../helpers.ts';

const ALGS = ['RS256', 'PS256', 'ES256'] as const;
const keys: Record<string, { privateKey: KeyObject; publicKey: KeyObject }> = {
  RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS256: generateKeyPairSync('rsa', { modulusLength: 3072 }),
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
};
const pem = (alg: string) => keys[alg]!.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

let peers: Peers;
const exchanges: Exchange[] = [];
beforeAll(async () => {
  peers = await startPeers({
    onExchange: (e) => exchanges.push(e),
    clients: ALGS.map((alg) => ({
      client_id: `service.${alg}`,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: alg,
      jwks: { keys: [{ ...keys[alg]!.publicKey.export({ format: 'jwk' }), kid: `${alg}-1`, alg, use: 'sig' }] },
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'api',
    })),
  });
});
afterAll(() => peers?.close());

/** A context as createDPoPFetch makes it, with a new P-256 DPoP key (never the client key). */
const context = async (): Promise<TokenContext> => ({ keyPair: await generateKeyPair(), fetch: (input, init) => fetch(input, init), nonces: createNonceCache(), clock: createClock(), requireDPoP: true });
const service = (alg: string, clientAssertionKey: CryptoKeyPair, more: { clientAssertionAlg?: AssertionAlg } = {}) =>
  clientCredentials({ tokenEndpoint: peers.tokenEndpoint, clientId: `service.${alg}`, clientAssertionKey, clientAssertionKid: `${alg}-1`, scope: 'api', ...more });
/** The client assertions the token endpoint received since `from`. */
const assertions = (from: number) => exchanges.slice(from).filter((e) => e.server === 'as' && e.method === 'POST').map((e) => new URLSearchParams(e.requestBody).get('client_assertion')!);

describe('private_key_jwt with RSA and EC keys, against oidc-provider clients registered for each algorithm', () => {
  for (const alg of ALGS) {
    it(`${alg}: the key's algorithm signs the assertion, oidc-provider accepts it, and the API answers 200`, async () => {
      const clientKey = await importClientKey(pem(alg), { alg });
      const from = exchanges.length;
      const api = createDPoPFetch({ keyPair: await generateKeyPair(), tokens: service(alg, clientKey) });
      const res = await api(peers.apiUrl);
      expect(res.status).toBe(200);
      const sent = assertions(from);
      expect(sent).toHaveLength(2); // nonce demand, then the token: two fresh assertions
      for (const assertion of sent) {
        const { protectedHeader, payload } = await jose.jwtVerify(assertion, keys[alg]!.publicKey, { algorithms: [alg], issuer: `service.${alg}`, subject: `service.${alg}`, audience: peers.tokenEndpoint });
        expect(protectedHeader).toEqual({ alg, typ: 'JWT', kid: `${alg}-1` });
        expect(payload.exp! - payload.iat!).toBe(60);
      }
      expect(new Set(sent.map((a) => jose.decodeJwt(a).jti)).size).toBe(2);
    });
  }

  it('a key the server does not have for that algorithm → invalid_client, and the error says to register the key for the algorithm', async () => {
    // The RS256 client's own key, but imported for PS256: oidc-provider wants RS256 from it.
    const samePsKey = await importClientKey(pem('RS256'), { alg: 'PS256' });
    const ctx = await context();
    const wrongAlg = await caught(() => service('RS256', samePsKey).getToken(ctx));
    expect(wrongAlg).toBeInstanceOf(OAuthError);
    expect(wrongAlg).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_client', status: 401 });
    expect(wrongAlg.message).toContain("Check that the server has clientAssertionKey's public key for PS256.");
    // Another RSA key altogether.
    const stranger = await importClientKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    const unknown = await caught(() => service('RS256', stranger).getToken(ctx));
    expect(unknown).toMatchObject({ code: 'ERR_OAUTH', error: 'invalid_client' });
    expect(unknown.message).toContain("Check that the server has clientAssertionKey's public key for RS256.");
  });

  it('clientAssertionAlg that the key cannot sign → a TypeError before any request, naming what the key signs', async () => {
    const rsKey = await importClientKey(pem('RS256'));
    const from = exchanges.length;
    const err = await caught(() => service('PS256', rsKey, { clientAssertionAlg: 'PS256' }));
    expect(err).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.clientAssertionAlg" must be RS256, what the key signs' });
    expect(exchanges.length).toBe(from);
    // The matching option is accepted.
    await service('RS256', rsKey, { clientAssertionAlg: 'RS256' }).getToken(await context());
  });
});
