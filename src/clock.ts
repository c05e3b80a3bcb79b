/**
 * The client's idea of the server's time. Proofs carry `iat`, and servers refuse proofs
 * whose `iat` is far from their own clock, so a client with a wrong clock learns the offset
 * from the `Date` header of the responses it gets (RFC 9110 §6.6.1).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */

// `Date` has one-second resolution and a response spends time in flight: only a difference
// larger than this is a wrong clock rather than noise.
const NOISE_MS = 5_000;

/** The client's clock, corrected by what servers' `Date` headers teach it. */
export interface Clock {
  /** Server time minus local time, in milliseconds. */
  offset: number;
  /** Milliseconds since the epoch, by the servers' clock as far as we know it. */
  now(): number;
  /** Seconds since the epoch, for `iat`. */
  seconds(): number;
  /** Learns from a response's `Date`; returns true when the offset changed. */
  learn(headers: Headers): boolean;
}

/**
 * A clock that starts from `local` and learns the servers' offset.
 *
 * @param local the local clock in ms since the epoch (createDPoPFetch's `now`).
 */
export function createClock(local: () => number = Date.now): Clock {
  const self: Clock = {
    offset: 0,
    now: () => local() + self.offset,
    seconds: () => Math.floor(self.now() / 1000),
    learn(headers) {
      // A response served by a cache says when the origin made it (`Date`) and how long ago
      // (`Age`, RFC 9111 §5.1): the server's clock now is the sum. No `Date`: NaN, ignored.
      const age = Number(headers.get('age'));
      const offset = Date.parse(headers.get('date')!) + (Number.isInteger(age) && age > 0 ? age * 1000 : 0) - local();
      if (!(Math.abs(offset - self.offset) >= NOISE_MS)) return false;
      self.offset = Math.abs(offset) < NOISE_MS ? 0 : offset;
      return true;
    },
  };
  return self;
}
