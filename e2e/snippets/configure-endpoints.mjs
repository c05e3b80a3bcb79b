// 1. Endpoints: you know the token endpoint. Nothing is discovered, nothing more is loaded.
import { clientCredentials, createDPoPFetch, generateKeyPair } from 'dpop-fetch';

/** @param {{ tokenEndpoint: string, clientId: string, clientSecret: string }} config */
export async function createApi({ tokenEndpoint, clientId, clientSecret }) {
  const tokens = clientCredentials({ tokenEndpoint, clientId, clientSecret, scope: 'api' });
  return createDPoPFetch({ keyPair: await generateKeyPair(), tokens });
}
