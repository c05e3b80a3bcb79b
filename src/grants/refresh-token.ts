/**
 * The refresh-token grant (RFC 6749 §6) with DPoP: refresh tokens issued to public clients are
 * bound to the DPoP key (RFC 9449 §5), so a single-page app can keep one in storage and, with
 * the same non-extractable key from IndexedDB, renew its access tokens after a reload.
 *
 * Servers may rotate the refresh token on every use and revoke the whole grant when an old
 * one comes back, so refreshes never overlap: one request at a time per source, and the
 * newest refresh token is handed to the application before the access token is used.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
 */
import { assertFunction, assertObject, assertString } from '../assert.ts';
import type { TokenContext } from '../context.ts';
import { grantForm, type EndpointOptions } from './form.ts';
import type { Send } from './request.ts';
import type { TokenSet, TokenSource } from './source.ts';
import { tokenEndpoint, type EndpointFactory } from './token-endpoint.ts';

/** Called with every new refresh token, so the application can keep the newest one. */
export type RefreshTokenListener = (refreshToken: string) => void | Promise<void>;

/** Options of {@link refreshToken}. */
export interface RefreshTokenOptions extends EndpointOptions {
  /** The token endpoint: https, or http on a loopback host (or with `allowInsecureHttp`). */
  tokenEndpoint: string | URL;
  /** The refresh token to start from, e.g. the one the application stored last time. */
  refreshToken: string;
  /**
   * Called with each new refresh token the server issues (rotation), before the new access
   * token is used; store it where the next page load finds it. Awaited when it returns a promise.
   */
  onRefreshToken?: RefreshTokenListener | undefined;
  /** Narrower scopes to ask for (space-separated or a list); default: those of the grant. */
  scope?: string | readonly string[] | undefined;
  /** Extra form parameters for the token request. */
  params?: Record<string, string> | undefined;
}

/** Keeps the current refresh token and uses it one request at a time. */
export class Refresher {
  #current: string | undefined;
  #inflight: Promise<TokenSet> | undefined;
  readonly #send: Send;
  /** The form of every refresh, without the refresh token (set per request): no secret. */
  readonly form: URLSearchParams;
  readonly #listener: RefreshTokenListener | undefined;

  constructor(send: Send, form: URLSearchParams, listener: RefreshTokenListener | undefined, initial?: string) {
    this.#send = send;
    this.form = form;
    this.#listener = listener;
    this.#current = initial;
  }

  get available(): boolean {
    return this.#current !== undefined;
  }

  /** Takes the refresh token of a token response, if it has a new one, and tells the application. */
  async accept(token: TokenSet): Promise<TokenSet> {
    const { refreshToken, ...rest } = token;
    if (refreshToken !== undefined && refreshToken !== this.#current) {
      this.#current = refreshToken;
      await this.#listener?.(refreshToken);
    }
    // The refresh token stays here: the token cache and everything above it never see it.
    return rest;
  }

  /** A new access token from the refresh token; concurrent callers share one request. */
  refresh(context: TokenContext): Promise<TokenSet> {
    this.#inflight ??= (async () => {
      try {
        const used = this.#current!;
        const form = new URLSearchParams(this.form);
        form.set('refresh_token', used);
        return await this.accept(await this.#send(context, form, [used]));
      } finally {
        this.#inflight = undefined;
      }
    })();
    return this.#inflight;
  }
}

/**
 * A token source that renews access tokens with a (DPoP-bound) refresh token, rotating it
 * when the server issues a new one.
 *
 * @param options the token endpoint, the client, the refresh token to start from, and where to put new ones.
 * @example
 * const keyPair = await loadOrCreateKeyPair({ name: 'app' }); // the key the refresh token is bound to
 * const tokens = refreshToken({
 *   tokenEndpoint: 'https://as.example/token',
 *   clientId: 'spa',
 *   refreshToken: localStorage.getItem('refresh_token')!,
 *   onRefreshToken: (rt) => localStorage.setItem('refresh_token', rt),
 * });
 * const api = createDPoPFetch({ keyPair, tokens });
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export function refreshToken(options: RefreshTokenOptions): TokenSource {
  return refreshSource(options, tokenEndpoint);
}

/** The refresh-token source, its requests sent where `endpoint` says (see token-endpoint.ts). */
export function refreshSource(options: EndpointOptions & Omit<RefreshTokenOptions, 'tokenEndpoint'>, endpoint: EndpointFactory): TokenSource {
  assertObject(options, 'options');
  const send = endpoint(options);
  assertString(options.refreshToken, 'options.refreshToken');
  assertFunction(options.onRefreshToken, 'options.onRefreshToken');
  const refresher = new Refresher(send, grantForm('refresh_token', options), options.onRefreshToken, options.refreshToken);
  // Without the refresh token, which changes with every rotation and is a secret: tokens are
  // shared between holders of one key (one user's tabs or instances), see the README.
  return { getToken: (context) => refresher.refresh(context), identity: `${options.tokenEndpoint ?? options.issuer} ${options.clientId} ${refresher.form}` };
}
