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
 * A usable token: the cached one, or a new one shared by every caller waiting now. `refused`,
 * a token the server said is invalid, is dropped first if it is still the cached one.
 */
export type TokenCache = (context: TokenContext, signal: AbortSignal | null, refused?: TokenSet) => Promise<CachedToken>;

/**
 * Keeps one source's token, renews it ahead of expiry, and fetches it once at a time.
 *
 * @param renewBefore ms before expiry to renew; default 30 s, at most a quarter of the lifetime.
 * @param timeout ms a token request may take before it is abandoned.
 */
export function createTokenCache(source: TokenSource, renewBefore: number | undefined, timeout: number): TokenCache {
  let current: TokenSet | undefined;
  let inflight: Promise<TokenSet> | undefined;
  let count = 0;
  // `expires_in` counts from when the server issued the token, in whole seconds, and the
  // answer spent time in flight: the real expiry can be up to a second before ours.
  const usable = ({ expiresAt, receivedAt }: TokenSet, now: number) =>
    expiresAt === undefined || now < expiresAt - 1000 - (renewBefore ?? Math.min(30_000, (expiresAt - receivedAt) / 4));
  return async (context, signal, refused) => {
    if (current === refused) current = undefined;
    if (current && usable(current, context.clock.now())) return [current, false];
    if (!inflight) {
      // The shared request is not tied to one caller's signal: others may still want it.
      const request = (inflight = source
        .getToken({ ...context, signal: AbortSignal.timeout(timeout) })
        .then((token) => {
          emit(context.onEvent, {
            type: 'token',
            tokenType: token.tokenType,
            expiresIn: token.expiresAt === undefined ? undefined : Math.round((token.expiresAt - token.receivedAt) / 1000),
            renewal: count++ > 0,
            scope: token.scope,
          });
          if (usable(token, context.clock.now())) current = token;
          return token;
        })
        .finally(() => {
          if (inflight === request) inflight = undefined;
        }));
      request.catch(() => {}); // a request nobody waits for any more must not be unhandled
    }
    return [await raceAbort(inflight, signal), true];
  };
}
