// Browsers (single-page apps): the key is kept in IndexedDB, so a page reload proves with the
// same key and every token bound to it stays valid. Bundle with esbuild, Vite, webpack, ...
import { createDPoPFetch, type DPoPFetchOptions, type TokenSource } from 'dpop-fetch';
import { loadOrCreateKeyPair } from 'dpop-fetch/indexeddb';

export async function createApi(tokens: TokenSource, options: Omit<DPoPFetchOptions, 'keyPair' | 'tokens'> = {}) {
  // The stored key, or a new non-extractable one on first visit (or if the stored one is unusable).
  const keyPair = await loadOrCreateKeyPair({ name: 'my-app' });
  return { keyPair, api: createDPoPFetch({ keyPair, tokens, ...options }) };
}

// `tokens` is your token source. Servers on other origins must allow yours (CORS), accept the
// request headers DPoP and Authorization, and expose DPoP-Nonce and WWW-Authenticate.
