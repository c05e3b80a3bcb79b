// The clock (src/clock.ts): what a response's Date (and Age) teaches it, and what it ignores.
// Against real servers with a client 10 minutes off: grants.peers.test.ts.
import { describe, expect, it } from 'vitest';
import { createClock } from '../src/clock.ts';

const T = Date.parse('2026-05-01T12:00:00Z');
const date = (ms: number, extra: Record<string, string> = {}) => new Headers({ date: new Date(ms).toUTCString(), ...extra });

describe('Clock', () => {
  it('uses the local clock until a response says otherwise', () => {
    const clock = createClock(() => T + 250);
    expect(clock.offset).toBe(0);
    expect(clock.now()).toBe(T + 250);
    expect(clock.seconds()).toBe(T / 1000);
  });

  it('learns a 10-minute offset from Date and applies it to now() and seconds()', () => {
    const clock = createClock(() => T - 600_000); // local clock 10 minutes behind
    expect(clock.learn(date(T))).toBe(true);
    expect(clock.offset).toBe(600_000);
    expect(clock.seconds()).toBe(T / 1000);
    expect(clock.learn(date(T))).toBe(false); // nothing new
  });

  it('ignores differences under 5 s (Date has 1 s resolution and responses take time)', () => {
    const clock = createClock(() => T);
    expect(clock.learn(date(T + 4_000))).toBe(false);
    expect(clock.offset).toBe(0);
    expect(clock.learn(date(T + 6_000))).toBe(true);
    expect(clock.offset).toBe(6_000);
  });

  it('goes back to the local clock when servers agree with it again', () => {
    let local = T - 600_000;
    const clock = createClock(() => local);
    clock.learn(date(T));
    local = T; // e.g. NTP fixed the machine
    expect(clock.learn(date(T + 1_000))).toBe(true);
    expect(clock.offset).toBe(0);
  });

  it('adds Age for a response served from a cache (RFC 9111 §5.1)', () => {
    const clock = createClock(() => T);
    expect(clock.learn(date(T - 120_000, { age: '120' }))).toBe(false); // a cached answer, not a wrong clock
    expect(clock.offset).toBe(0);
    expect(clock.learn(date(T - 120_000))).toBe(true); // the same Date without Age: 2 minutes off
    expect(clock.offset).toBe(-120_000);
    const other = createClock(() => T);
    expect(other.learn(date(T - 120_000, { age: 'soon' }))).toBe(true); // a malformed Age counts as none
  });

  it('ignores a missing or unparsable Date', () => {
    const clock = createClock(() => T);
    expect(clock.learn(new Headers())).toBe(false);
    expect(clock.learn(new Headers({ date: 'yesterday-ish' }))).toBe(false);
    expect(clock.offset).toBe(0);
  });
});
