/**
 * The authorization code grant for apps that cannot keep a secret (RFC 6749 §4.1, RFC 9700
 * §2.1.1): PKCE with S256 (RFC 7636), the DPoP key's thumbprint in the authorization request
 * (`dpop_jkt`, RFC 9449 §10) so the code is bound to the key before it exists, the code
 * exchanged once with a DPoP proof, and renewals through the refresh token that came with it.
 *
 * Three steps, one per page the app shows:
 * `authorizationCode.start(...)` before leaving for the server, `authorizationCode.parseCallback(...)`
 * when it comes back, then `authorizationCode({ ... })` as the token source of createDPoPFetch.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc7636
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-10
 */
import { assertFunction, assertObject, assertOptionalString, assertSigningKeyPair, assertString, invalidValue, parseUrl } from '../assert.ts';
import { encode } from '../base64url.ts';
import { OAuthError, TokenResponseError } from '../errors.ts';
import { Refresher, userIdentity, type RefreshTokenListener } from './refresh-token.ts';
import { calculateThumbprint } from '../keys/thumbprint.ts';
import { endpointUrl, grantForm, requestForm, withQuery, type EndpointOptions } from './form.ts';
import type { TokenSet, TokenSource } from './source.ts';
import type { AuthorizationTarget } from './par.ts';
import { tokenEndpoint, type EndpointFactory } from './token-endpoint.ts';

/** Options of {@link authorizationCode.start}. */
export interface AuthorizationRequestOptions {
  /** The authorization endpoint: https, or http on a loopback host (or with `allowInsecureHttp`). */
  authorizationEndpoint: string | URL;
  clientId: string;
  /** Where the server sends the browser back; registered with the server. */
  redirectUri: string | URL;
  /** The DPoP key pair the tokens will be bound to; its thumbprint is sent as `dpop_jkt`. */
  keyPair: CryptoKeyPair;
  /** Space-separated scopes, or a list. */
  scope?: string | readonly string[] | undefined;
  /** RFC 8707 resource indicator(s). */
  resource?: string | readonly string[] | undefined;
  /** Extra query parameters (`prompt`, `login_hint`, `nonce`, …); they cannot replace the ones set here. */
  params?: Record<string, string> | undefined;
  /** Allow an http: authorization endpoint on a non-loopback host. Default false. */
  allowInsecureHttp?: boolean | undefined;
  /** The server's issuer identifier, when known: returned with the request, for parseCallback to check `iss` against (RFC 9207). */
  issuer?: string | undefined;
}

/** What {@link authorizationCode.start} returns: keep all but `url` (e.g. in sessionStorage) for parseCallback, go to `url`. */
export interface AuthorizationRequest {
  /** The authorization URL to navigate to. */
  url: string;
  /** Random; the callback must carry it back. */
  state: string;
  /** The PKCE secret for the code exchange. Never put it in a URL. */
  codeVerifier: string;
  /** `options.issuer`, when it was given. */
  issuer?: string | undefined;
}

/** Options of {@link authorizationCode.parseCallback}. */
export interface AuthorizationCallbackOptions {
  /** The `state` that `start` returned for this login. */
  state: string;
  /** The server's issuer identifier (as `start` returned it): when known, the callback must carry it as `iss` (RFC 9207, against mix-up). */
  issuer?: string | undefined;
}

/** Options of {@link authorizationCode}. */
export interface AuthorizationCodeOptions extends EndpointOptions {
  /** The token endpoint: https, or http on a loopback host (or with `allowInsecureHttp`). */
  tokenEndpoint: string | URL;
  /** The same `redirectUri` as in the authorization request. */
  redirectUri: string | URL;
  /** The code from {@link authorizationCode.parseCallback}. */
  code: string;
  /** The `codeVerifier` that `start` returned. */
  codeVerifier: string;
  /**
   * Called with the refresh token the code brings, and with each new one when it rotates,
   * before the access token is used. With createDPoPFetch's `store` the refresh token is kept
   * there, and `refreshToken({ tokenEndpoint, clientId })` resumes from it after a reload; without
   * one, keep it here and pass it to {@link refreshToken}. Awaited when it returns a promise.
   */
  onRefreshToken?: RefreshTokenListener | undefined;
  /** Extra form parameters for the token requests. */
  params?: Record<string, string> | undefined;
  /** Names the user's session for a store that many users share with one key (as refreshToken's `session`): not needed with `indexedDbStore`. */
  session?: string | undefined;
}

// RFC 7636 §4.1: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~].
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

function random(bytes: number): string {
  return encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** An absolute URL of any scheme (native apps redirect to their own); a redirect URI has no fragment (RFC 6749 §3.1.2). */
function absoluteUrl(value: unknown, path: string, fragment = false): URL {
  const url = parseUrl(value, path);
  if (url.hash && !fragment) throw invalidValue(path, 'must not have a fragment');
  return url;
}

/**
 * Builds the authorization request: PKCE S256, a random `state`, and `dpop_jkt`.
 *
 * @param options where to send the user, the client, and the DPoP key the code will be bound to.
 * @returns the URL to navigate to, with the `state` and `codeVerifier` to keep until the callback.
 * @example
 * const login = await authorizationCode.start({ authorizationEndpoint, clientId: 'spa', redirectUri, scope: 'api', keyPair });
 * sessionStorage.setItem('login', JSON.stringify({ state: login.state, codeVerifier: login.codeVerifier }));
 * location.assign(login.url);
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-10
 */
const startLogin = (options: AuthorizationRequestOptions): Promise<AuthorizationRequest> => startWith(options);

/** {@link authorizationCode.start}, sent where `target` says when given (the endpoint may then be missing). */
export async function startWith(options: Omit<AuthorizationRequestOptions, 'authorizationEndpoint'> & { authorizationEndpoint?: string | URL | undefined }, target?: AuthorizationTarget): Promise<AuthorizationRequest> {
  assertObject(options, 'options');
  const endpoint = target && options.authorizationEndpoint === undefined ? undefined : endpointUrl(options.authorizationEndpoint, 'options.authorizationEndpoint', options.allowInsecureHttp);
  assertString(options.clientId, 'options.clientId');
  // Sent as given: servers compare redirect_uri as an exact string, and URL.href may not round-trip it.
  absoluteUrl(options.redirectUri, 'options.redirectUri');
  const redirectUri = String(options.redirectUri);
  assertSigningKeyPair(options.keyPair, 'options.keyPair');
  const { issuer } = options;
  assertOptionalString(issuer, 'options.issuer');
  const query = requestForm(options, { response_type: 'code', client_id: options.clientId, redirect_uri: redirectUri });

  const state = random(16);
  const codeVerifier = random(32); // 43 characters, 256 bits
  const challenge = encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(codeVerifier))));
  query.set('state', state);
  query.set('code_challenge', challenge);
  query.set('code_challenge_method', 'S256');
  query.set('dpop_jkt', await calculateThumbprint(options.keyPair));
  const url = withQuery(...(target ? await target(query, endpoint) : ([endpoint!, query] as const)));
  return issuer === undefined ? { url, state, codeVerifier } : { url, state, codeVerifier, issuer };
}

/**
 * Reads the code from the URL the server sent the browser back to, after checking that no
 * parameter comes twice (RFC 6749 §3.1), `state` (RFC 6749 §10.12) and, when the issuer is
 * known, `iss` (RFC 9207).
 *
 * @param url the callback URL, e.g. `location.href`.
 * @param options the `state` that `start` returned, and the issuer when known: pass the object `start` returned.
 * @returns the authorization code.
 * @throws OAuthError (`ERR_OAUTH`, `status` 0) when the server sent an error, e.g. `access_denied`.
 * @example
 * const login = JSON.parse(sessionStorage.getItem('login')!); // what start() returned, url aside
 * const code = authorizationCode.parseCallback(location.href, login);
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2
 */
export function readCallback(url: string | URL, options: AuthorizationCallbackOptions): string {
  const callback = absoluteUrl(url, 'url', true);
  assertObject(options, 'options');
  assertString(options.state, 'options.state');
  assertOptionalString(options.issuer, 'options.issuer');
  const query = callback.searchParams;
  // RFC 6749 §3.1: each parameter at most once; with two, an attacker who adds one picks which counts (issue 13).
  const names = [...query.keys()];
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) throw invalidValue('url', `carries "${repeated.slice(0, 40)}" more than once (RFC 6749 §3.1 allows each parameter once): it was tampered with; start the login again`);
  // The state is checked first: an answer that is not for this login, error or not, is not ours to act on.
  if (query.get('state') !== options.state) {
    throw invalidValue('url', 'does not carry the state of the login this page started (options.state): it answers another login, or was forged; start the login again');
  }
  if (options.issuer !== undefined && query.get('iss') !== options.issuer) {
    throw invalidValue('url', `does not carry "iss" equal to options.issuer: the answer comes from another authorization server (RFC 9207 mix-up defence); start the login again`);
  }
  const error = query.get('error');
  if (error !== null) {
    const description = query.get('error_description') ?? undefined;
    const shown = error.slice(0, 100);
    throw new OAuthError(
      `The authorization server refused the login: ${shown}${description ? ` (${description.slice(0, 500)})` : ''}. ${error === 'access_denied' ? 'The user or the server declined; offer to sign in again.' : 'Check the authorization request (client, redirectUri, scope) against the client registration.'}`,
      { error: shown, error_description: description?.slice(0, 500), error_uri: query.get('error_uri') ?? undefined, status: 0 },
    );
  }
  const code = query.get('code');
  if (!code) throw invalidValue('url', 'has neither "code" nor "error": pass the URL the authorization server redirected to');
  return code;
}

/**
 * A token source that exchanges an authorization code (with its PKCE verifier and a DPoP
 * proof), then renews through the refresh token it came with. The code is used once.
 *
 * @param options the token endpoint, the client, and the code with its verifier.
 * @example
 * const tokens = authorizationCode({
 *   tokenEndpoint, clientId: 'spa', redirectUri, code, codeVerifier,
 *   onRefreshToken: (rt) => localStorage.setItem('refresh_token', rt),
 * });
 * const api = createDPoPFetch({ keyPair, tokens }); // the same keyPair as in start()
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 */
export function authorizationCode(options: AuthorizationCodeOptions): TokenSource {
  return codeSource(options, tokenEndpoint);
}

/** The authorization-code source, its requests sent where `endpoint` says (see token-endpoint.ts). */
export function codeSource(options: EndpointOptions & Omit<AuthorizationCodeOptions, 'tokenEndpoint'>, endpoint: EndpointFactory): TokenSource {
  assertObject(options, 'options');
  const send = endpoint(options);
  absoluteUrl(options.redirectUri, 'options.redirectUri');
  const { code, codeVerifier, onRefreshToken } = options;
  assertString(code, 'options.code');
  assertString(codeVerifier, 'options.codeVerifier');
  if (!VERIFIER.test(codeVerifier)) throw invalidValue('options.codeVerifier', 'must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1): pass the codeVerifier that start() returned');
  assertFunction(onRefreshToken, 'options.onRefreshToken');
  const shared = { resource: options.resource, params: options.params };
  // Sent as given: the server compares it with the authorization request's as an exact string.
  const exchange = grantForm('authorization_code', shared, { code, redirect_uri: String(options.redirectUri), code_verifier: codeVerifier });
  const refresher = new Refresher(send, grantForm('refresh_token', shared), onRefreshToken);

  let used: 'no' | 'exchanged' | 'refused' = 'no';
  let inflight: Promise<TokenSet> | undefined;
  return {
    ...userIdentity(options, refresher.form), // as refreshToken's: signed in by code or resumed, one entry
    getToken(context) {
      if (refresher.available) return refresher.refresh(context);
      if (used !== 'no') {
        const why = used === 'exchanged' ? 'the token endpoint issued no refresh token with it' : 'the token endpoint refused it';
        return Promise.reject(
          new TokenResponseError(
            'ERR_TOKEN_RESPONSE',
            `A new access token is needed, but the authorization code was already used and ${why}. Start the login again (authorizationCode.start)${used === 'exchanged' ? ', or register the client for the refresh_token grant' : ''}.`,
            0,
          ),
        );
      }
      inflight ??= (async () => {
        try {
          const token = await send(context, exchange, [code, codeVerifier]);
          used = 'exchanged';
          return await refresher.accept(token, context.shared); // a new grant: its refresh token replaces the stored one
        } catch (err) {
          // Once the server has answered, the code is gone (RFC 6749 §4.1.2: used once);
          // a request that never got an answer may try it again.
          if (used === 'no' && (err instanceof OAuthError || (err instanceof TokenResponseError && err.status !== 0))) used = 'refused';
          throw err;
        } finally {
          inflight = undefined;
        }
      })();
      return inflight;
    },
  };
}

authorizationCode.start = startLogin;
authorizationCode.parseCallback = readCallback;
