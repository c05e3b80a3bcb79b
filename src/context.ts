/**
 * What every request shares, resource and token requests alike: the key, the per-origin nonce
 * cache and the clock ({@link TokenContext}), and the DPoP side of one exchange: sign a proof
 * for it ({@link proofFor}), learn the nonce and the clock from its answer ({@link learnFrom}),
 * and free the connection of an answer that is not returned ({@link discard}).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */
import type { Clock } from './clock.ts';
import { emit, emitProof, type EventListener } from './events.ts';
import type { NonceCache } from './nonce.ts';
import { signProof } from './proof.ts';
import type { DPoPStore } from './store/dpop-store.ts';

/** What a token source gets from createDPoPFetch to do its work. */
export interface TokenContext {
  keyPair: CryptoKeyPair;
  fetch: typeof fetch;
  nonces: NonceCache;
  clock: Clock;
  requireDPoP: boolean;
  signal?: AbortSignal | undefined;
  /**
   * The URL (origin and path) of the request the token is for, when createDPoPFetch asks: a
   * source given no endpoint finds its authorization server from it (RFC 9728).
   */
  url?: string | undefined;
  onEvent?: EventListener | undefined;
  /** Report every proof through onEvent (createDPoPFetch's `debug`). */
  debug?: boolean | undefined;
  /**
   * Given to a token source's `getToken` when createDPoPFetch has a `store` and the source an
   * `identity` (and, for a source `forUser`, a store of one user's session): the fleet's store,
   * for what a source must share itself (a rotating refresh token, issue 16). Its calls are bounded to about a second and reject rather than hang.
   * `key` names this source's entry for this key pair (a hash, no secret in it): keep your own
   * values under `key` plus a suffix of your own. `locked` is true when this instance holds the
   * fleet's lock on that entry while `getToken` runs, so no other instance reads or writes it
   * meanwhile; false with a store that has no lock, or when taking it failed.
   */
  shared?: { store: DPoPStore; key: string; locked: boolean } | undefined;
}

/**
 * Signs a proof with the context's key and the clock of `origin`, and reports it when `debug`
 * is on. Shared by token requests and createDPoPFetch.
 */
export async function proofFor(ctx: TokenContext, origin: string, htm: string, htu: string, accessToken?: string, nonce?: string): Promise<string> {
  const proof = await signProof(ctx.keyPair, htm, htu, accessToken, nonce, ctx.clock.seconds(origin));
  if (ctx.debug) emitProof(ctx.onEvent, proof);
  return proof;
}

/**
 * Learns the nonce (kept under `space`: the origin, or an authorization server's key) and the
 * clock of `origin` from a response; reports a clock correction. Returns the nonce it carried
 * (if valid) and whether the clock changed.
 */
export function learnFrom(ctx: TokenContext, origin: string, htu: string, headers: Headers, space = origin): [string | undefined, boolean] {
  const offset = ctx.clock.learn(origin, headers);
  if (offset !== undefined) emit(ctx.onEvent, { type: 'clock-skew', offset, url: htu });
  return [ctx.nonces.learn(space, headers), offset !== undefined];
}

/**
 * A response's body as JSON, read no further than `max` bytes: undefined when it is longer
 * (the rest is cancelled; on a clone, the other branch is untouched) or not JSON. Rejects only
 * when reading fails.
 */
export async function readJson(response: Response, max: number): Promise<unknown> {
  const reader = response.body?.getReader();
  const chunks: BlobPart[] = [];
  for (let size = 0, chunk; reader && !(chunk = await reader.read()).done; chunks.push(chunk.value)) {
    if ((size += chunk.value.length) > max) return void reader.cancel().catch(() => {});
  }
  const text = await new Blob(chunks).text();
  try {
    return JSON.parse(text);
  } catch {
    // not JSON: undefined
  }
}

/** Cancels the body of a response that is not returned, so its connection is freed. */
export async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}
