// 2. Issuer: the authorization server's metadata (RFC 8414, or OpenID Connect Discovery) names
// its endpoints and the client authentication it takes. One request, shared and cached.
import { createDPoPFetch, generateKeyPair } from 'dpop-fetch';
import { clientCredentials } from 'dpop-fetch/discovery';

/** @param {{ issuer: string, clientId: string, clientSecret: string }} config */
export async function createApi({ issuer, clientId, clientSecret }) {
  const tokens = clientCredentials({ issuer, clientId, clientSecret, scope: 'api' });
  return createDPoPFetch({ keyPair: await generateKeyPair(), tokens });
}
