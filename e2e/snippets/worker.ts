// Cloudflare Workers: a Worker that calls a DPoP-protected API on behalf of its callers.
import { clientCredentials, createDPoPFetch, generateKeyPair, type DPoPFetch } from 'dpop-fetch';

export interface Env {
  TOKEN_ENDPOINT: string;
  CLIENT_ID: string;
  CLIENT_SECRET: string; // wrangler secret put CLIENT_SECRET
  API_ORIGIN: string; // e.g. https://api.example
}

// One key and one token cache per isolate, made on the first request (Workers allow no
// crypto at global scope); every later request reuses the token until it is renewed.
let api: Promise<DPoPFetch> | undefined;

async function connect(env: Env): Promise<DPoPFetch> {
  const keyPair = await generateKeyPair();
  const tokens = clientCredentials({ tokenEndpoint: env.TOKEN_ENDPOINT, clientId: env.CLIENT_ID, clientSecret: env.CLIENT_SECRET, scope: 'api' });
  return createDPoPFetch({ keyPair, tokens, allowedOrigins: [env.API_ORIGIN] });
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    api ??= connect(env);
    const { pathname, search } = new URL(request.url);
    return (await api)(new URL(pathname + search, env.API_ORIGIN)); // GET the same path from the API
  },
};
