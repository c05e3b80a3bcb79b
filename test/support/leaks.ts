// Checks that nothing secret escapes: a deep walk over errors and events (message, stack,
// `cause` chain, AggregateError members, every own enumerable field, nested objects and
// arrays, Maps and Sets), plus util.inspect and JSON of the same value, grepped for every
// secret string. And a process-level guard that fails a test on any unhandled rejection.
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';

/** Every string reachable from `value` the way a logger or serialiser could reach it. */
export function reachableText(value: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 50) return;
    if (typeof v === 'string') return void out.push(v);
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return void out.push(String(v));
    if (typeof v === 'symbol') return void out.push(v.toString());
    if (typeof v === 'function') return void out.push(v.name);
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (v instanceof Error) {
      out.push(v.name, v.message, v.stack ?? '');
      walk((v as { cause?: unknown }).cause, depth + 1); // own but not enumerable
      if (v instanceof AggregateError) walk(v.errors, depth + 1);
    }
    if (v instanceof Map) for (const [k, x] of v) (walk(k, depth + 1), walk(x, depth + 1));
    if (v instanceof Set) for (const x of v) walk(x, depth + 1);
    for (const key of Reflect.ownKeys(v)) {
      const descriptor = Object.getOwnPropertyDescriptor(v, key);
      if (!descriptor?.enumerable) continue;
      out.push(String(key));
      walk('value' in descriptor ? descriptor.value : undefined, depth + 1);
    }
  };
  walk(value, 0);
  out.push(inspect(value, { depth: 20, showHidden: false, getters: false }));
  try {
    out.push(JSON.stringify(value) ?? '');
  } catch {
    // circular: the walk above covered it
  }
  return out;
}

/** The secrets (by index) found anywhere in `value`; [] when clean. */
export function leakedSecrets(value: unknown, secrets: readonly string[]): string[] {
  const text = reachableText(value).join('\n');
  return secrets.filter((s) => s && text.includes(s)).map((s) => `${s.slice(0, 6)}… (${s.length} chars)`);
}

/** Fails the current test when `value` holds any of `secrets`. */
export function expectNoSecrets(value: unknown, secrets: readonly string[]): void {
  expect(leakedSecrets(value, secrets), 'a secret, token or key is reachable from this value').toEqual([]);
}

/**
 * Registers a process-level `unhandledRejection` listener for the whole file and fails the
 * test during which one happened (vitest reports them too; this pins them to a test).
 */
export function failOnUnhandledRejections(): void {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => void seen.push(reason);
  beforeAll(() => void process.on('unhandledRejection', listener));
  afterAll(() => void process.off('unhandledRejection', listener));
  afterEach(async () => {
    // A rejection is reported only after the microtask queue drains, so give it two turns.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const found = seen.splice(0);
    expect(found.map((r) => inspect(r)), 'unhandled promise rejections').toEqual([]);
  });
}
