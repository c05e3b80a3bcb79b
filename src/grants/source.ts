/**
 * What a grant gives the token cache: a {@link TokenSource} is anything that can get a token,
 * and a {@link TokenSet} is the token as the client keeps it.
 */
import type { TokenContext } from '../context.ts';

/** Anything that can produce a token for createDPoPFetch. */
export interface TokenSource {
  /** Gets a new token; called by the cache only when it has none it can use. */
  getToken(context: TokenContext): Promise<TokenSet>;
  /**
   * Which tokens this source gets, described without secrets: the built-in sources give the
   * token endpoint, the client id and the form they send (grant type, scope, resource, extra
   * params; never a secret, code or refresh token). With createDPoPFetch's `store`, instances
   * whose sources have the same identity and whose keys are the same share one token; a source
   * without an identity shares nothing but the servers' nonces (issue 15).
   */
  readonly identity?: string | undefined;
  /**
   * True when the tokens act for one user and `identity` does not say which: `refreshToken` and
   * `authorizationCode` without `session`. Through a store that many users' instances share
   * with one DPoP key, they would reach another user, so they are shared only through a store of
   * one user's session (one with `checkSession`, such as `indexedDbStore`); with any other store
   * each instance keeps its own, and a `store-error` event (`refused`) says why (issue 16).
   */
  readonly forUser?: boolean | undefined;
}

/** A token as the client keeps it. */
export interface TokenSet {
  accessToken: string;
  /** `DPoP` or `Bearer`, normalised from the server's case-insensitive `token_type`. */
  tokenType: 'DPoP' | 'Bearer';
  /**
   * When it expires, in ms since the epoch by the authorization server's clock (as its `Date`
   * taught it); undefined when the server did not say. The token cache judges expiry by the
   * lifetime `expiresAt - receivedAt`, counted on the monotonic clock from the token's arrival.
   */
  expiresAt: number | undefined;
  /** When it was received, in ms since the epoch by the authorization server's clock. */
  receivedAt: number;
  scope?: string | undefined;
  refreshToken?: string | undefined;
}
