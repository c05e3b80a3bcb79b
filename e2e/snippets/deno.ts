// Deno: `deno add npm:dpop-fetch`, then `deno run --allow-net --allow-env=CLIENT_SECRET app.ts`.
import { clientCredentials, createDPoPFetch, generateKeyPair, type DPoPFetchOptions } from 'dpop-fetch';

export async function createApi(
  config: { tokenEndpoint: string; clientId: string; clientSecret: string },
  options: Omit<DPoPFetchOptions, 'keyPair' | 'tokens'> = {},
) {
  const keyPair = await generateKeyPair(); // P-256; the private key cannot be exported
  const tokens = clientCredentials({ ...config, scope: 'api' });
  return { keyPair, api: createDPoPFetch({ keyPair, tokens, ...options }) };
}

// const { api } = await createApi({ tokenEndpoint: 'https://as.example/token', clientId: 'm2m.dpop', clientSecret: Deno.env.get('CLIENT_SECRET')! });
// const res = await api('https://api.example/things');
