// 3. The API's URL only (RFC 9728, as MCP clients start): the API's first answer names its
// metadata, which names its authorization server, and the token is asked for that API.
import { createDPoPFetch, generateKeyPair } from 'dpop-fetch';
import { clientCredentials } from 'dpop-fetch/discovery';

/** @param {{ apiUrl: string, clientId: string, clientSecret: string }} config */
export async function createApi({ apiUrl, clientId, clientSecret }) {
  const tokens = clientCredentials({ clientId, clientSecret, scope: 'api' });
  // The token is for this API: keep it from every other origin.
  return createDPoPFetch({ keyPair: await generateKeyPair(), tokens, allowedOrigins: [new URL(apiUrl).origin] });
}
