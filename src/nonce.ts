/**
 * Server-provided DPoP nonces (RFC 9449 §8, §9), kept per origin in a bounded LRU map. An
 * authorization server's nonces (§8) and a resource server's (§9) are separate spaces even on
 * one origin (Duende's demo serves its token endpoint and its API from one): token requests
 * keep theirs under {@link asNonceKey}, so neither overwrites the other (issue 13).
 *
 * Besides the nonce itself it remembers that an origin was heard from, so that when a burst
 * of first requests hits an origin whose nonce is unknown, one request learns it and the others
 * wait briefly for it instead of each earning a `use_dpop_nonce` round trip.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */

import { DPoPError } from './errors.ts';

/**
 * A server demanded a nonce but none could be read: `ERR_NONCE_MISSING`. In a browser the
 * header is usually there but hidden by CORS, and the message says how the server fixes it.
 *
 * @param where who demanded it, e.g. "token endpoint" or "resource server at https://api.example".
 */
export function nonceMissingError(response: Response, where: string): DPoPError {
  return new DPoPError(
    'ERR_NONCE_MISSING',
    `The ${where} demanded a DPoP nonce${
      response.type === 'cors'
        ? ', but this page cannot read its DPoP-Nonce header: the server must list DPoP-Nonce in Access-Control-Expose-Headers.'
        : ' (use_dpop_nonce) but sent no valid DPoP-Nonce header: fix the server.'
    }`,
    { response },
  );
}

/** The key under which the nonces of the authorization server at `origin` are kept. */
export const asNonceKey = (origin: string): string => `${origin} AS`;

/** Per-origin nonces, bounded; see the top of this file. */
export interface NonceCache {
  /** How many origins are remembered. */
  readonly size: number;
  /** The nonce for an origin, if one is known; refreshes its recency. */
  get(origin: string): string | undefined;
  /** Records what a response from `origin` said; returns the nonce it carried, if any. */
  learn(origin: string, headers: Headers): string | undefined;
  /**
   * For an origin never heard from: the first caller gets a function to call once its response
   * arrived (or failed); later callers get a promise to wait on. Known origins get neither.
   */
  firstContact(origin: string): (() => void) | Promise<void> | undefined;
}

/**
 * A nonce cache that keeps at most `limit` origins, the least recently used dropped first.
 *
 * @param limit at most this many origins (createDPoPFetch's `maxNonces`).
 */
export function createNonceCache(limit = 1000): NonceCache {
  // origin -> nonce, or null when the origin answered without one. Map order is recency.
  const entries = new Map<string, string | null>();
  const learning = new Map<string, Promise<void>>();
  const put = (origin: string, value: string | null) => {
    entries.delete(origin);
    entries.set(origin, value);
    if (entries.size > limit) entries.delete(entries.keys().next().value!);
  };
  return {
    get size() {
      return entries.size;
    },
    get(origin) {
      const value = entries.get(origin);
      if (value !== undefined) put(origin, value);
      return value ?? undefined;
    },
    learn(origin, headers) {
      // RFC 9449 §8.1: nonce = 1*NQCHAR. Anything else, or longer than 1024 characters, is
      // ignored, never kept or echoed back.
      const value = headers.get('dpop-nonce')?.trim();
      const nonce = value && /^[\x21\x23-\x5b\x5d-\x7e]{1,1024}$/.test(value) ? value : undefined;
      // A response without a nonce does not erase one we have: servers send it only sometimes.
      if (nonce !== undefined || entries.get(origin) == null) put(origin, nonce ?? null);
      return nonce;
    },
    firstContact(origin) {
      if (entries.has(origin)) return undefined;
      const pending = learning.get(origin);
      if (pending) return pending;
      let done!: () => void;
      learning.set(origin, new Promise<void>((resolve) => (done = resolve)));
      return () => {
        learning.delete(origin);
        done();
      };
    },
  };
}
