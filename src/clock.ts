/**
 * The client's idea of each server's time. Proofs carry `iat`, and servers refuse proofs
 * whose `iat` is far from their own clock, so a client with a wrong clock learns the offset
 * from the `Date` header of the responses it gets (RFC 9110 §6.6.1), one offset per origin:
 * what one server says about the time never changes the proofs sent to another (issue 13).
 * How long ago something happened (a token's age) is measured on the monotonic clock instead
 * (`performance.now()`, in token-cache.ts), which neither a server's `Date` nor a change of the
 * system clock can move.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */

// `Date` has one-second resolution and a response spends time in flight: only a difference
// larger than this is a wrong clock rather than noise.
const NOISE_MS = 5_000;

/**
 * An HTTP-date (RFC 9110 §5.6.7) in ms since the epoch: IMF-fixdate
 * (`Sun, 06 Nov 1994 08:49:37 GMT`) or either obsolete form (`Sunday, 06-Nov-94 08:49:37 GMT`,
 * `Sun Nov  6 08:49:37 1994`, which is GMT too); NaN for anything else, and for null (no
 * header). `Date.parse` reads these three, but alone it also reads `0` as the year 2000: the
 * pattern comes first.
 */
export function parseHttpDate(value: string | null): number {
  return /^\w+(, \d\d?[ -]\w{3}[ -]\d+ [\d:]{8} GMT| \w{3} +\d\d? [\d:]{8} \d{4})$/.test(value!) ? Date.parse(value!.replace(/\d$/, '$& GMT')) : NaN;
}

/** The client's idea of each origin's time, as its `Date` headers teach it. */
export interface Clock {
  /** Milliseconds since the epoch by the clock of `origin`, as far as we know it. */
  now(origin: string): number;
  /**
   * Seconds since the epoch by the clock of `origin`, for `iat`: one second back, so that a
   * server with no leeway whose clock runs a few ms behind never sees an `iat` in its future
   * (issue 17: Glewlwyd's time() lags Date.now() by up to ~4 ms and allows no leeway by
   * default). Every acceptance window (oauth4webapi ±300 s, oidc-provider, RFC 9449 §11.1)
   * allows a second in the past.
   */
  seconds(origin: string): number;
  /**
   * Learns from a response's `Date`. Returns the new offset of `origin` (its time minus local
   * time, in ms; 0 when they agree again) when it changed, else undefined.
   */
  learn(origin: string, headers: Headers): number | undefined;
}

/**
 * A clock that starts from `local` and learns each server's offset, for at most `limit`
 * origins. Ages (a token's) are measured apart, with `performance.now()`.
 *
 * @param local the local clock in ms since the epoch (createDPoPFetch's `now`).
 */
export function createClock(local: () => number = Date.now, limit = 1000): Clock {
  const offsets = new Map<string, number>();
  const offset = (origin: string) => offsets.get(origin) ?? 0;
  const self: Clock = {
    now: (origin) => local() + offset(origin),
    seconds: (origin) => Math.floor(self.now(origin) / 1000) - 1,
    learn(origin, headers) {
      // A response served by a cache says when the origin made it (`Date`) and how long ago
      // (`Age`, RFC 9111 §5.1): the server's clock now is the sum.
      const age = Number(headers.get('age'));
      const date = parseHttpDate(headers.get('date')) + (Number.isInteger(age) && age > 0 ? age * 1000 : 0);
      let next = date - local();
      // No Date, not an HTTP-date, or absurd (before November 2023, after 2096): ignored.
      if (!(date > 1.7e12 && date < 4e12 && Math.abs(next - offset(origin)) >= NOISE_MS)) return;
      // Past `limit` origins with a wrong clock, all are forgotten and learnt again.
      if (offsets.size >= limit) offsets.clear();
      offsets.set(origin, (next = Math.abs(next) < NOISE_MS ? 0 : next));
      return next;
    },
  };
  return self;
}
