// The single-page app of the grants suite, written as the README's SPA quick start tells an
// app to: the DPoP key in IndexedDB, the login state in sessionStorage, the refresh token in
// localStorage. Playwright drives it through `window.grants.*`; results come back as plain data.
import { DPoPError, OAuthError, authorizationCode, calculateThumbprint, clientCredentials, createDPoPFetch, refreshToken, type DPoPEvent } from 'dpop-fetch';
import * as discovery from 'dpop-fetch/discovery';
import { loadOrCreateKeyPair } from 'dpop-fetch/indexeddb';

export interface AppConfig {
  authorizationEndpoint: string;
  tokenEndpoint: string;
  issuer: string;
  clientId: string;
  apiUrl: string;
  /** Added to the page's clock, to play a device whose clock is wrong. */
  skewMs?: number;
  /** IndexedDB name of the DPoP key. */
  keyName?: string;
  /**
   * Configure by `issuer` alone (`dpop-fetch/discovery`): endpoints from the server's metadata,
   * and the authorization request pushed (PAR) when the metadata requires it.
   */
  viaIssuer?: boolean;
}

export interface CallResult {
  status: number;
  /** The claims the resource server validated, or its WWW-Authenticate when it refused. */
  claims: Record<string, string> | null;
  challenge: string | null;
  thumbprint: string;
  events: DPoPEvent[];
  refreshToken: string | null;
  failure: { name: string; code: unknown; error?: string; message: string } | null;
}

const redirectUri = () => `${location.origin}/callback`;
const keyPair = (config: AppConfig) => loadOrCreateKeyPair({ name: config.keyName ?? 'app' });

async function call(config: AppConfig, tokens: Parameters<typeof createDPoPFetch>[0]['tokens'], pair: CryptoKeyPair): Promise<CallResult> {
  const events: DPoPEvent[] = [];
  const api = createDPoPFetch({
    keyPair: pair,
    tokens,
    requireDPoP: true,
    onEvent: (e) => events.push(e),
    ...(config.skewMs ? { now: () => Date.now() + config.skewMs! } : {}),
  });
  const base = { thumbprint: await calculateThumbprint(pair), events };
  try {
    const res = await api(config.apiUrl);
    const body = res.ok ? ((await res.json()) as Array<{ type: string; value: string }>) : (await res.body?.cancel(), null);
    return {
      ...base,
      status: res.status,
      claims: body && Object.fromEntries(body.map((c) => [c.type, c.value])),
      challenge: res.headers.get('www-authenticate'),
      refreshToken: localStorage.getItem('refresh_token'),
      failure: null,
    };
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return {
      ...base,
      status: 0,
      claims: null,
      challenge: null,
      refreshToken: localStorage.getItem('refresh_token'),
      failure: { name: e.name, code: e.code, message: e.message, ...(err instanceof OAuthError ? { error: err.error } : {}), ...(err instanceof DPoPError ? {} : { name: `not a DPoPError: ${e.name}` }) },
    };
  }
}

/** Step 1, on the "Sign in" click: remember the PKCE secret and state, leave for the server. */
async function login(config: AppConfig): Promise<void> {
  const common = { clientId: config.clientId, redirectUri: redirectUri(), scope: 'api', keyPair: await keyPair(config) };
  const request = config.viaIssuer
    ? await discovery.authorizationCode.start({ issuer: config.issuer, ...common })
    : await authorizationCode.start({ authorizationEndpoint: config.authorizationEndpoint, ...common });
  sessionStorage.setItem('login', JSON.stringify({ state: request.state, codeVerifier: request.codeVerifier, config }));
  location.assign(request.url);
}

/** Step 2, on /callback: check the answer, exchange the code, call the API. */
async function callback(): Promise<CallResult> {
  const { state, codeVerifier, config } = JSON.parse(sessionStorage.getItem('login')!) as { state: string; codeVerifier: string; config: AppConfig };
  sessionStorage.removeItem('login');
  const code = authorizationCode.parseCallback(location.href, { state, issuer: config.issuer });
  history.replaceState(null, '', redirectUri()); // the code is spent: keep it out of history and reloads
  const exchange = { clientId: config.clientId, redirectUri: redirectUri(), code, codeVerifier, onRefreshToken: (rt: string) => localStorage.setItem('refresh_token', rt) };
  const tokens = config.viaIssuer ? discovery.authorizationCode({ issuer: config.issuer, ...exchange }) : authorizationCode({ tokenEndpoint: config.tokenEndpoint, ...exchange });
  return call(config, tokens, await keyPair(config));
}

/** Every later page load: the same key from IndexedDB, the newest refresh token from localStorage. */
async function resume(config: AppConfig): Promise<CallResult> {
  const tokens = refreshToken({
    tokenEndpoint: config.tokenEndpoint,
    clientId: config.clientId,
    refreshToken: localStorage.getItem('refresh_token')!,
    onRefreshToken: (rt) => localStorage.setItem('refresh_token', rt),
  });
  return call(config, tokens, await keyPair(config));
}

let assertionKeys: CryptoKeyPair | undefined;

/** A service's own private_key_jwt key, made here and never extractable; returns the public JWK to register. */
async function assertionKey(): Promise<JsonWebKey> {
  assertionKeys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  return crypto.subtle.exportKey('jwk', assertionKeys.publicKey);
}

/** client_credentials with private_key_jwt, DPoP key from IndexedDB. */
async function service(config: AppConfig): Promise<CallResult> {
  const tokens = clientCredentials({ tokenEndpoint: config.tokenEndpoint, clientId: config.clientId, clientAssertionKey: assertionKeys!, scope: 'api' });
  return call(config, tokens, await keyPair(config));
}

declare global {
  interface Window {
    grants: { login: typeof login; callback: typeof callback; resume: typeof resume; assertionKey: typeof assertionKey; service: typeof service; ready: true };
  }
}
window.grants = { login, callback, resume, assertionKey, service, ready: true };
