/**
 * Server-provided DPoP nonces (RFC 9449 §8, §9), kept per origin in a bounded LRU map.
 *
 * Besides the nonce itself it remembers that an origin was heard from, so that when a burst
 * of first requests hits an origin whose nonce is unknown, one request learns it and the others
 * wait briefly for it instead of each earning a `use_dpop_nonce` round trip.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */

import { DPoPError, ErrorCode } from './errors.ts';

// RFC 9449 §8.1: nonce = 1*NQCHAR. Anything else is ignored, never echoed back.
const NQCHAR = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Reads the `DPoP-Nonce` header if it holds a valid nonce. */
export function nonceFrom(headers: Headers): string | undefined {
  const value = headers.get('dpop-nonce')?.trim();
  return value && NQCHAR.test(value) ? value : undefined;
}

/**
 * A server demanded a nonce but none could be read: `ERR_NONCE_MISSING`. In a browser the
 * header is usually there but hidden by CORS, and the message says how the server fixes it.
 *
 * @param where who demanded it, e.g. "token endpoint" or "resource server at https://api.example".
 */
export function nonceMissingError(response: Response, where: string): DPoPError {
  return new DPoPError(
    ErrorCode.NONCE_MISSING,
    response.type === 'cors'
      ? `The ${where} demanded a DPoP nonce, but this page cannot read the DPoP-Nonce header: the server must list DPoP-Nonce in Access-Control-Expose-Headers.`
      : `The ${where} demanded a DPoP nonce (use_dpop_nonce) but sent no valid DPoP-Nonce header; the server is misconfigured.`,
    { response },
  );
}

export class NonceCache {
  // origin -> nonce, or null when the origin answered without one. Map order is recency.
  readonly #entries = new Map<string, string | null>();
  readonly #learning = new Map<string, Promise<void>>();
  readonly #limit: number;

  constructor(limit = 1000) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The nonce for an origin, if one is known; refreshes its recency. */
  get(origin: string): string | undefined {
    const value = this.#entries.get(origin);
    if (value === undefined) return undefined;
    this.#entries.delete(origin);
    this.#entries.set(origin, value);
    return value ?? undefined;
  }

  /** Whether the origin has answered before (with or without a nonce). */
  known(origin: string): boolean {
    return this.#entries.has(origin);
  }

  /** Records what a response from `origin` said; returns the nonce it carried, if any. */
  learn(origin: string, headers: Headers): string | undefined {
    const nonce = nonceFrom(headers);
    const previous = this.#entries.get(origin);
    // A response without a nonce does not erase one we have: servers send it only sometimes.
    if (nonce === undefined && previous != null) return undefined;
    this.#entries.delete(origin);
    this.#entries.set(origin, nonce ?? null);
    if (this.#entries.size > this.#limit) this.#entries.delete(this.#entries.keys().next().value!);
    return nonce;
  }

  /**
   * For an origin never heard from: the first caller gets a `done` function to call once its
   * response arrived (or failed); later callers get a promise to wait on. Known origins get
   * neither.
   */
  firstContact(origin: string): { done?: () => void; wait?: Promise<void> } {
    if (this.#entries.has(origin)) return {};
    const pending = this.#learning.get(origin);
    if (pending) return { wait: pending };
    let done!: () => void;
    const wait = new Promise<void>((resolve) => (done = resolve));
    this.#learning.set(origin, wait);
    return {
      done: () => {
        this.#learning.delete(origin);
        done();
      },
    };
  }
}
