// The clock (src/clock.ts): what a response's Date (and Age) teaches it about one origin, what
// it ignores, and the HTTP-date parser. Against real servers with a client 10 minutes off:
// grants.peers.test.ts; servers that send nonsense dates: faults.test.ts.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createClock, parseHttpDate } from '../src/clock.ts';

const T = Date.parse('2026-05-01T12:00:00Z');
const A = 'https://a.example';
const B = 'https://b.example';
const date = (ms: number, extra: Record<string, string> = {}) => new Headers({ date: new Date(ms).toUTCString(), ...extra });

describe('Clock', () => {
  it('uses the local clock until a response says otherwise', () => {
    const clock = createClock(() => T + 250);
    expect(clock.now(A)).toBe(T + 250);
    // One second back: no server without leeway, its clock a few ms behind, sees it as future.
    expect(clock.seconds(A)).toBe(T / 1000 - 1);
  });

  it('learns a 10-minute offset from Date and applies it to now() and seconds() of that origin only', () => {
    const clock = createClock(() => T - 600_000); // local clock 10 minutes behind
    expect(clock.learn(A, date(T))).toBe(600_000);
    expect(clock.now(A)).toBe(T);
    expect(clock.seconds(A)).toBe(T / 1000 - 1);
    expect(clock.learn(A, date(T))).toBeUndefined(); // nothing new
    expect(clock.seconds(B)).toBe(T / 1000 - 601); // another server has said nothing yet
  });

  it('keeps one offset per origin: a server with a wrong clock changes only its own', () => {
    const clock = createClock(() => T);
    expect(clock.learn(A, date(T + 3_600_000))).toBe(3_600_000);
    expect(clock.learn(B, date(T))).toBeUndefined();
    expect([clock.now(A), clock.now(B)]).toEqual([T + 3_600_000, T]);
  });

  it('ignores differences under 5 s (Date has 1 s resolution and responses take time)', () => {
    const clock = createClock(() => T);
    expect(clock.learn(A, date(T + 4_000))).toBeUndefined();
    expect(clock.now(A)).toBe(T);
    expect(clock.learn(A, date(T + 6_000))).toBe(6_000);
    expect(clock.now(A)).toBe(T + 6_000);
  });

  it('goes back to the local clock when the server agrees with it again', () => {
    let local = T - 600_000;
    const clock = createClock(() => local);
    clock.learn(A, date(T));
    local = T; // e.g. NTP fixed the machine
    expect(clock.learn(A, date(T + 1_000))).toBe(0);
    expect(clock.now(A)).toBe(T);
  });

  it('adds Age for a response served from a cache (RFC 9111 §5.1)', () => {
    const clock = createClock(() => T);
    expect(clock.learn(A, date(T - 120_000, { age: '120' }))).toBeUndefined(); // a cached answer, not a wrong clock
    expect(clock.learn(A, date(T - 120_000))).toBe(-120_000); // the same Date without Age: 2 minutes off
    const other = createClock(() => T);
    expect(other.learn(A, date(T - 120_000, { age: 'soon' }))).toBe(-120_000); // a malformed Age counts as none
  });

  it('ignores an Age that is not a whole positive number of seconds (RFC 9111 §5.1: delta-seconds)', () => {
    for (const age of ['-30', '30.5', '0']) {
      expect(createClock(() => T).learn(A, date(T - 120_000, { age })), age).toBe(-120_000);
    }
  });

  it('draws its bounds exactly: 5 s off is learnt, a Date at either absurd bound is not', () => {
    expect(createClock(() => T).learn(A, date(T + 5_000))).toBe(5_000);
    expect(createClock(() => T).learn(A, date(T + 4_000))).toBeUndefined();
    // Back within 5 s of the local clock after a large offset: exactly 5 s is still an offset.
    const back = createClock(() => T);
    back.learn(A, date(T + 60_000));
    expect(back.learn(A, date(T + 5_000))).toBe(5_000);
    for (const bound of [1.7e12, 4e12]) expect(createClock(() => bound - 600_000).learn(A, date(bound)), String(bound)).toBeUndefined();
    expect(createClock(() => 1.7e12 - 600_000).learn(A, date(1.7e12 + 1000))).toBe(601_000);
  });

  it('ignores a missing, unparsable or absurd Date (before November 2023 or after 2096)', () => {
    const clock = createClock(() => T);
    for (const value of ['yesterday-ish', '0', '2026-05-01T12:00:00Z', 'Sat, 01 Jan 2000 00:00:00 GMT', 'Thu, 01 Jan 1970 00:00:00 GMT', 'Fri, 01 Jan 2100 00:00:00 GMT', 'Thursday, 01-Jan-70 00:00:00 GMT']) {
      expect(clock.learn(A, new Headers({ date: value })), value).toBeUndefined();
    }
    expect(clock.learn(A, new Headers())).toBeUndefined();
    expect(clock.now(A)).toBe(T);
  });

  it('remembers at most `limit` origins: past that, all are forgotten and learnt again', () => {
    const C = 'https://c.example';
    const clock = createClock(() => T, 2);
    for (const origin of [A, B]) clock.learn(origin, date(T + 60_000));
    expect([A, B].map((o) => clock.now(o) - T)).toEqual([60_000, 60_000]);
    expect(clock.learn(C, date(T + 60_000))).toBe(60_000);
    expect([A, B, C].map((o) => clock.now(o) - T)).toEqual([0, 0, 60_000]);
    expect(clock.learn(A, date(T + 60_000))).toBe(60_000);
  });
});

// RFC 9110 §5.6.7's three forms, written here from the RFC's grammar, not by the code under test.
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');
const time = (d: Date) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
const imfFixdate = (d: Date) => `${DAYS[d.getUTCDay()]!.slice(0, 3)}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${time(d)} GMT`;
const rfc850 = (d: Date) => `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${pad(d.getUTCFullYear() % 100)} ${time(d)} GMT`;
const asctime = (d: Date) => `${DAYS[d.getUTCDay()]!.slice(0, 3)} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${time(d)} ${d.getUTCFullYear()}`;

describe('parseHttpDate', () => {
  it("reads the RFC's own examples of the three forms as one instant", () => {
    const expected = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(expected);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(expected);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(expected);
  });

  it('reads the asctime form as GMT in any local time zone (RFC 9110 §5.6.7), and a one-digit day as Date.parse does', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York'; // Node applies a TZ set at run time to Date at once
    try {
      expect(new Date(2026, 0, 1).getTimezoneOffset()).toBe(300); // the zone took effect: 5 h west
      expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
      expect(parseHttpDate('Sun, 6 Nov 1994 08:49:37 GMT')).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('any instant from 2000 to 2069 written in each form (1000 runs) → read back to the second', () => {
    const instant = fc.date({ min: new Date(Date.UTC(2000, 0, 1)), max: new Date(Date.UTC(2069, 11, 31)), noInvalidDate: true });
    fc.assert(
      fc.property(instant, (d) => {
        const seconds = Math.floor(d.getTime() / 1000) * 1000;
        expect(parseHttpDate(imfFixdate(d))).toBe(seconds);
        expect(parseHttpDate(d.toUTCString())).toBe(seconds);
        // A two-digit year 50-99 is read as 19xx (Date.parse's pivot), then ignored as absurd.
        if (d.getUTCFullYear() < 2050) expect(parseHttpDate(rfc850(d))).toBe(seconds);
        else expect(parseHttpDate(rfc850(d))).toBe(Date.UTC(d.getUTCFullYear() - 100, d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));
        expect(parseHttpDate(asctime(d))).toBe(seconds);
      }),
      { numRuns: 1000 },
    );
  });

  it('anything else is NaN, including what Date.parse accepts', () => {
    const lenient = ['0', '2026-05-01', '2026-05-01T12:00:00Z', 'May 1 2026', 'Fri, 01 May 2026 12:00:00 +0000', '1 May 2026 12:00:00 GMT', 'x Fri, 01 May 2026 12:00:00 GMT'];
    for (const value of lenient) expect(Number.isNaN(Date.parse(value)), value).toBe(false); // why Date.parse is not used
    for (const value of [...lenient, '', 'Fri, 01 Foo 2026 12:00:00 GMT', 'Fri, 01 May 2026 12:00:00 GMT GMT', 'Fri May  1 12:00:00 2026 GMT']) {
      expect(Number.isNaN(parseHttpDate(value)), value).toBe(true);
    }
  });
});
