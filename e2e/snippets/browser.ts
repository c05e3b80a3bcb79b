// Browsers (single-page apps), every tab of the app as one client: the key in IndexedDB, and one
// access token, the rotating refresh token and the servers' nonces shared by the tabs through the
// same database; one tab refreshes at a time (a Web Lock), the others use what it got.
// Bundle with esbuild, Vite, webpack, ...
import { authorizationCode, createDPoPFetch, DPoPError, refreshToken, type DPoPFetch, type DPoPFetchOptions } from 'dpop-fetch';
import { deleteKeyPair, indexedDbStore, loadOrCreateKeyPair } from 'dpop-fetch/indexeddb';

export interface AppConfig {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  clientId: string;
  scope: string;
  apiOrigin: string;
}

const name = 'my-app'; // the key's name: the tabs share what is stored under it
const redirectUri = () => `${location.origin}/callback`;

export function createApp(config: AppConfig, options: Omit<DPoPFetchOptions, 'keyPair' | 'tokens' | 'store'> = {}) {
  const { tokenEndpoint, clientId } = config;
  let client: Promise<DPoPFetch> | undefined;

  async function connect(): Promise<DPoPFetch> {
    const keyPair = await loadOrCreateKeyPair({ name }); // the same key in every tab and after reloads
    const login = sessionStorage.getItem('login');
    sessionStorage.removeItem('login');
    let tokens;
    if (login && location.pathname === '/callback') {
      // Back from the sign-in: the code is exchanged once, its refresh token kept for every tab.
      const { state, codeVerifier } = JSON.parse(login);
      const code = authorizationCode.parseCallback(location.href, { state, issuer: config.issuer });
      history.replaceState(null, '', '/'); // keep the spent code out of history
      tokens = authorizationCode({ tokenEndpoint, clientId, redirectUri: redirectUri(), code, codeVerifier });
    } else {
      tokens = refreshToken({ tokenEndpoint, clientId }); // any other tab or load: the refresh token the tabs keep
    }
    const store = indexedDbStore({ name }); // one token, one refresh at a time, sign-out for all tabs
    return createDPoPFetch({ keyPair, tokens, store, allowedOrigins: [config.apiOrigin], ...options });
  }

  /** `fetch` for the API, in any tab. Signed out (or not yet in): rejects with ERR_LOGIN_REQUIRED. */
  async function api(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    client ??= connect().catch((err) => {
      client = undefined; // e.g. a callback that is not this tab's login: the next call starts again
      throw err;
    });
    try {
      return await (await client)(input, init);
    } catch (err) {
      // Signed out, maybe in another tab: the next call starts again from what is stored.
      if (err instanceof DPoPError && err.code === 'ERR_LOGIN_REQUIRED') client = undefined;
      throw err;
    }
  }

  /** "Sign in": a new key for the new session, then off to the authorization server. */
  async function signIn(): Promise<void> {
    await deleteKeyPair(name); // whatever an earlier session left, in every tab
    const keyPair = await loadOrCreateKeyPair({ name });
    const login = await authorizationCode.start({ authorizationEndpoint: config.authorizationEndpoint, clientId, redirectUri: redirectUri(), scope: config.scope, keyPair });
    sessionStorage.setItem('login', JSON.stringify({ state: login.state, codeVerifier: login.codeVerifier }));
    location.assign(login.url);
  }

  /** "Sign out", in any tab: every tab's next call rejects with ERR_LOGIN_REQUIRED, none reaches the API. */
  const signOut = () => deleteKeyPair(name);

  return { api, signIn, signOut };
}

// const app = createApp({ issuer: 'https://as.example', authorizationEndpoint: 'https://as.example/authorize', tokenEndpoint: 'https://as.example/token', clientId: 'spa', scope: 'api offline_access', apiOrigin: 'https://api.example' });
// const res = await app.api('https://api.example/things'); // on ERR_LOGIN_REQUIRED, offer app.signIn()
// Servers on other origins must allow yours (CORS), accept the request headers DPoP and
// Authorization, and expose DPoP-Nonce and WWW-Authenticate.
