// memoryStore (src/store/memory.ts): the DPoPStore contract in one process, where both
// "instances" hold the same store object, as several createDPoPFetch instances in one process do.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryStore } from '../../src/store/memory.ts';
import { storeContract } from './contract.ts';

const store = memoryStore();
storeContract('memoryStore', () => ({ a: store, b: store }), { lock: true });

describe('memoryStore', () => {
  afterEach(() => vi.restoreAllMocks());

  it('keeps stores apart: two memoryStore() calls share nothing', async () => {
    const [one, two] = [memoryStore(), memoryStore()];
    await one.set('k', 'v', 60);
    expect(await two.get('k')).toBeUndefined();
    expect(await two.lock!('k', 60)).toBeTypeOf('function');
    expect(await one.lock!('k', 60)).toBeTypeOf('function');
  });

  it('sweeps expired entries as it grows, so keys written once do not pile up', async () => {
    const deleted: unknown[] = [];
    const remove = Map.prototype.delete;
    vi.spyOn(Map.prototype, 'delete').mockImplementation(function (this: Map<unknown, unknown>, key: unknown) {
      deleted.push(key); // vitest's own maps too: filtered below
      return remove.call(this, key);
    });
    const s = memoryStore();
    for (let i = 0; i < 100; i++) await s.set(`gone-${i}`, 'v', 0.001);
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let i = 0; i < 100; i++) await s.set(`kept-${i}`, 'v', 60);
    // Every expired key was dropped, once, without being read again; no live key was.
    expect(deleted.filter((key) => /^(gone|kept)-/.test(String(key))).sort()).toEqual(Array.from({ length: 100 }, (_, i) => `gone-${i}`).sort());
    for (let i = 0; i < 100; i++) expect(await s.get(`kept-${i}`)).toBe('v');
  });

  it('keeps sweeping once it holds more than 64 live entries: entries that expire later are dropped too', async () => {
    const deleted: unknown[] = [];
    const remove = Map.prototype.delete;
    vi.spyOn(Map.prototype, 'delete').mockImplementation(function (this: Map<unknown, unknown>, key: unknown) {
      deleted.push(key);
      return remove.call(this, key);
    });
    const start = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(start); // expiry by the clock, not by waiting
    const s = memoryStore();
    for (let i = 0; i < 100; i++) await s.set(`live-${i}`, 'v', 3600);
    for (let i = 0; i < 100; i++) await s.set(`gone-${i}`, 'v', 1);
    clock.mockReturnValue(start + 2000);
    for (let i = 0; i < 100; i++) await s.set(`new-${i}`, 'v', 3600);
    expect(deleted.filter((key) => /^(live|gone|new)-/.test(String(key))).sort()).toEqual(Array.from({ length: 100 }, (_, i) => `gone-${i}`).sort());
    for (const name of ['live', 'new']) for (let i = 0; i < 100; i++) expect(await s.get(`${name}-${i}`)).toBe('v');
  });
});
