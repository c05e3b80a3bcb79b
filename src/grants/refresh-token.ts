/**
 * The refresh-token grant (RFC 6749 §6) with DPoP: refresh tokens issued to public clients are
 * bound to the DPoP key (RFC 9449 §5), so a single-page app can keep one in storage and, with
 * the same non-extractable key from IndexedDB, renew its access tokens after a reload.
 *
 * Servers may rotate the refresh token on every use and revoke the whole grant when an old
 * one comes back, so refreshes never overlap: one request at a time per source, and the
 * newest refresh token is handed to the application before the access token is used. With
 * createDPoPFetch's `store`, the refresh token is kept beside the shared token entry, read under
 * the store's lock and the rotated one written before the lock is let go, so that every tab or
 * instance holding the key refreshes with the newest one, one at a time (issue 16).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
 */
import { assertFunction, assertObject, assertOptionalString } from '../assert.ts';
import type { TokenContext } from '../context.ts';
import { DPoPError } from '../errors.ts';
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
  /**
   * The refresh token to start from when the store (createDPoPFetch's `store`) keeps none for
   * this key and client, e.g. one the application kept itself. Optional with a store: a new tab
   * or a reloaded page resumes from the one the store keeps, which wins over this one.
   */
  refreshToken?: string | undefined;
  /**
   * Called with each new refresh token the server issues (rotation), before the new access
   * token is used; store it where the next page load finds it. Awaited when it returns a promise.
   */
  onRefreshToken?: RefreshTokenListener | undefined;
  /** Narrower scopes to ask for (space-separated or a list); default: those of the grant. */
  scope?: string | readonly string[] | undefined;
  /** Extra form parameters for the token request. */
  params?: Record<string, string> | undefined;
  /**
   * Names the user's session (a user or session id) for a store that many users' instances
   * share with one DPoP key: it becomes part of the store entry's name, so one user's tokens
   * never reach another. Not needed with `indexedDbStore` (one browser profile, one user);
   * without it, any other store keeps this source's tokens per instance.
   */
  session?: string | undefined;
}

/** What the source shares through a store: its own entry, where its sessions differ. */
export interface UserIdentity {
  identity: string;
  forUser: boolean;
}

/**
 * The identity of a user's source: the endpoint, client and form, never the refresh token
 * (it changes with every rotation and is a secret), and the session when named. Without a
 * session it is `forUser`: shared only through a store of one user's session (issue 16).
 */
export function userIdentity(options: { tokenEndpoint?: string | URL | undefined; issuer?: string | undefined; clientId: string; session?: string | undefined }, form: URLSearchParams): UserIdentity {
  const { session } = options;
  assertOptionalString(session, 'options.session');
  const named = session === undefined ? '' : ` session=${encodeURIComponent(session)}`;
  return { identity: `${options.tokenEndpoint ?? options.issuer} ${options.clientId} ${form}${named}`, forUser: !named };
}

type Shared = TokenContext['shared'];

/** The store entry beside the source's token entry (`context.shared.key`). */
const SUFFIX = ' refresh';
// Servers keep refresh tokens for days or months and seldom say how long: the entry outlives
// its last rotation by a year, and sign-out deletes it (indexedDbStore).
const KEEP_S = 31_622_400;
// RFC 6749 §A.17: a refresh token is VSCHAR.
const VSCHAR = /^[\x20-\x7e]{1,65536}$/;

/** The refresh token the store keeps, and when it was received; undefined when none, unusable, or the store failed. */
async function readKept(shared: NonNullable<Shared>): Promise<{ rt: string; at: number } | undefined> {
  try {
    const { v, rt, at } = JSON.parse((await shared.store.get(shared.key + SUFFIX))!) ?? {};
    if (v === 1 && typeof rt === 'string' && VSCHAR.test(rt) && typeof at === 'number') return { rt, at };
  } catch {
    // Nothing usable: this source goes on with its own.
  }
}

/** Keeps the current refresh token and uses it one request at a time. */
export class Refresher {
  #current: string | undefined;
  /** When #current was received (ms since the epoch); 0 for the one given, which a stored one outranks. */
  #at = 0;
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

  /**
   * Takes the refresh token of a token response, if it has a new one; keeps it in the store
   * (unless the store holds it already: `stored`) before the lock is let go, then tells the
   * application.
   */
  async accept(token: TokenSet, shared?: Shared, stored?: string): Promise<TokenSet> {
    const { refreshToken, ...rest } = token;
    const rotated = refreshToken !== undefined && refreshToken !== this.#current;
    if (rotated) {
      this.#current = refreshToken;
      this.#at = Date.now();
    }
    if (shared && this.#current !== stored) {
      // A store that fails leaves this source with the newest one; the next holder may then
      // send an older one, which a server that detects reuse refuses (see the README).
      await shared.store.set(shared.key + SUFFIX, JSON.stringify({ v: 1, rt: this.#current, at: this.#at }), KEEP_S).catch(() => {});
    }
    if (rotated) await this.#listener?.(refreshToken);
    // The refresh token stays here: the token cache and everything above it never see it.
    return rest;
  }

  /** A new access token from the refresh token; concurrent callers share one request. */
  refresh(context: TokenContext): Promise<TokenSet> {
    // Only its own finally clears #inflight, so when that runs, #inflight is still this request.
    return (this.#inflight ??= this.#refresh(context).finally(() => {
      this.#inflight = undefined;
    }));
  }

  async #refresh(context: TokenContext): Promise<TokenSet> {
    const { shared } = context;
    const kept = shared && (await readKept(shared));
    // The newest wins: another tab's rotation, or this one's own when the store missed it.
    if (kept && kept.at >= this.#at) {
      this.#current = kept.rt;
      this.#at = kept.at;
    }
    const used = this.#current;
    if (used === undefined) {
      throw new DPoPError(
        'ERR_LOGIN_REQUIRED',
        `There is no refresh token to renew the access token with: none was given (options.refreshToken)${shared ? ', and the store keeps none for this key and client (signed out, or not signed in yet)' : ''}. Sign the user in (authorizationCode.start).`,
      );
    }
    const form = new URLSearchParams(this.form);
    form.set('refresh_token', used);
    return this.accept(await this.#send(context, form, [used]), shared, kept?.rt);
  }
}

/**
 * A token source that renews access tokens with a (DPoP-bound) refresh token, rotating it
 * when the server issues a new one.
 *
 * With a `store`, the refresh token is kept there: the newest one of every tab or instance that
 * holds the key, used under the store's lock and replaced before the lock is let go, so a
 * rotating server never sees one twice. `options.refreshToken` is where to start when the store
 * keeps none; with neither, a renewal rejects with `ERR_LOGIN_REQUIRED`.
 *
 * @param options the token endpoint, the client, the refresh token to start from, and where to put new ones.
 * @example
 * // Every tab of an app, after the sign-in (authorizationCode) stored the first refresh token:
 * const keyPair = await loadOrCreateKeyPair({ name: 'app' }); // the key the refresh token is bound to
 * const tokens = refreshToken({ tokenEndpoint: 'https://as.example/token', clientId: 'spa' });
 * const api = createDPoPFetch({ keyPair, tokens, store: indexedDbStore({ name: 'app' }) });
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export function refreshToken(options: RefreshTokenOptions): TokenSource {
  return refreshSource(options, tokenEndpoint);
}

/** The refresh-token source, its requests sent where `endpoint` says (see token-endpoint.ts). */
export function refreshSource(options: EndpointOptions & Omit<RefreshTokenOptions, 'tokenEndpoint'>, endpoint: EndpointFactory): TokenSource {
  assertObject(options, 'options');
  const send = endpoint(options);
  assertOptionalString(options.refreshToken, 'options.refreshToken');
  assertFunction(options.onRefreshToken, 'options.onRefreshToken');
  const refresher = new Refresher(send, grantForm('refresh_token', options), options.onRefreshToken, options.refreshToken);
  return { getToken: (context) => refresher.refresh(context), ...userIdentity(options, refresher.form) };
}
