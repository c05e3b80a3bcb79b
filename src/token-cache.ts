/**
 * The token cache: one token source's token, kept, renewed ahead of expiry, fetched once however
 * many requests wait for it (single-flight), and never kept when the fetch failed.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
import { raceAbort } from './abort.ts';
import type { TokenContext } from './context.ts';
import { emit } from './events.ts';
import type { TokenSet, TokenSource } from './grants/source.ts';

/** A token from the cache, and whether it was fetched for this very call. */
export type CachedToken = [token: TokenSet, fresh: boolean];

/**
 * A usable token: the cached one, or a new one shared by every caller waiting now. `url` is the
 * request's (origin and path), for a source that finds its server from the API (RFC 9728).
 * `refused`, a token the server said is invalid, is dropped first if it is still the cached one.
 */
export type TokenCache = (context: TokenContext, signal: AbortSignal | null, url: string, refused?: TokenSet) => Promise<CachedToken>;

/**
 * Keeps one source's token, renews it ahead of expiry, and fetches it once at a time.
 *
 * @param renewBefore ms before expiry to renew, at most a quarter of the lifetime.
 * @param timeout ms a token request may take before it is abandoned.
 */
export function createTokenCache(source: TokenSource, renewBefore: number, timeout: number): TokenCache {
  let current: TokenSet | undefined;
  let since = 0; // when `current` arrived, on the monotonic clock
  let inflight: Promise<TokenSet> | undefined;
  let count = 0;
  // `expires_in` is relative (RFC 6749 §5.1): a token's age is counted on the monotonic clock
  // (performance.now) from its arrival, never on a wall clock that a server's Date or the user
  // can move (issue 13). It counts from when the server issued the token, in whole seconds, and
  // the answer spent time in flight: the real expiry can be up to a second before ours. Renewal
  // starts `renewBefore` ahead, but never before three quarters of the lifetime.
  const usable = ({ expiresAt, receivedAt }: TokenSet, age: number) =>
    expiresAt === undefined || age < expiresAt - receivedAt - 1000 - Math.min(renewBefore, (expiresAt - receivedAt) / 4);
  return async (context, signal, url, refused) => {
    if (current === refused) current = undefined;
    if (current && usable(current, performance.now() - since)) return [current, false];
    if (!inflight) {
      // The shared request is not tied to one caller's signal: others may still want it.
      const request = (inflight = source
        .getToken({ ...context, signal: AbortSignal.timeout(timeout), url })
        .then((token) => {
          emit(context.onEvent, {
            type: 'token',
            tokenType: token.tokenType,
            expiresIn: token.expiresAt === undefined ? undefined : Math.round((token.expiresAt - token.receivedAt) / 1000),
            renewal: count++ > 0,
            scope: token.scope,
          });
          if (usable(token, 0)) {
            current = token;
            since = performance.now();
          }
          return token;
        })
        // Only this request can be in flight until it settles: no new one starts while it is.
        .finally(() => (inflight = undefined)));
      request.catch(() => {}); // a request nobody waits for any more must not be unhandled
    }
    return [await raceAbort(inflight, signal), true];
  };
}
