// Node 20+: a service calling a DPoP-protected API with the client-credentials grant.
import { clientCredentials, createDPoPFetch, generateKeyPair } from 'dpop-fetch';

/**
 * @param {{ tokenEndpoint: string, clientId: string, clientSecret: string }} config
 * @param {Omit<import('dpop-fetch').DPoPFetchOptions, 'keyPair' | 'tokens'>} [options] e.g. `{ onEvent: console.debug }`
 */
export async function createApi({ tokenEndpoint, clientId, clientSecret }, options = {}) {
  // One key per process: the tokens are bound to it. The private key cannot be exported.
  const keyPair = await generateKeyPair();
  const tokens = clientCredentials({ tokenEndpoint, clientId, clientSecret, scope: 'api' });
  return { keyPair, api: createDPoPFetch({ keyPair, tokens, ...options }) };
}

// const { api } = await createApi({ tokenEndpoint: 'https://as.example/token', clientId: 'm2m.dpop', clientSecret: process.env.CLIENT_SECRET });
// const res = await api('https://api.example/things'); // a standard Response: tokens, proofs, nonces and renewal handled
