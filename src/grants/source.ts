/**
 * What a grant gives the token cache: a {@link TokenSource} is anything that can get a token,
 * and a {@link TokenSet} is the token as the client keeps it.
 */
import type { TokenContext } from '../context.ts';

/** Anything that can produce a token for createDPoPFetch. */
export interface TokenSource {
  /** Gets a new token; called by the cache only when it has none it can use. */
  getToken(context: TokenContext): Promise<TokenSet>;
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
