// indexedDbStore (src/store/tab-store.ts) in Chromium: the DPoPStore contract with two tabs of
// one origin as the two instances (IndexedDB and Web Locks are the engine), then what only tabs
// have: a lock freed when its tab closes, sign-out (deleteKeyPair) clearing the entries in one
// transaction and ending the session in every tab, and the per-tab fallback where Web Locks or
// IndexedDB are missing. The tabs' whole flow against the real peers: e2e/browser/tabs.spec.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { DPoPStore } from '../../src/store/dpop-store.ts';
import { startTabs, type Tabs } from '../support/chromium.ts';
import { remoteStore } from '../support/remote-store.mjs';
import { storeContract } from './contract.ts';

let tabs: Tabs;
let a: Page;
let b: Page;
// Two more tabs of the same origin in a browser without Web Locks (before 2022).
let oldA: Page;
let oldB: Page;
const withoutWebLocks = () => Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });

beforeAll(async () => {
  tabs = await startTabs(new URL('./tab-store.page.ts', import.meta.url));
  [a, b] = [await tabs.open(), await tabs.open()];
  [oldA, oldB] = [await tabs.open(withoutWebLocks), await tabs.open(withoutWebLocks)];
}, 60_000);
afterAll(() => tabs?.close());

/** The store named `name` in the tab `page`, as a DPoPStore in Node. */
const storeIn = (page: Page, name = 'contract'): DPoPStore => remoteStore((call) => page.evaluate(([n, c]) => window.tabStore.call(n, c), [name, call] as const));

storeContract('indexedDbStore (two tabs of one origin in Chromium)', () => ({ a: storeIn(a), b: storeIn(b) }), { lock: true });
storeContract('indexedDbStore without Web Locks (two tabs taking turns with a lease in IndexedDB)', () => ({ a: storeIn(oldA, 'lease'), b: storeIn(oldB, 'lease') }), { lock: true });

describe('indexedDbStore: what tabs add', () => {
  it('the lock of a tab that closes is freed at once, long before its TTL', async () => {
    const c = await tabs.open();
    expect(await storeIn(c, 'closing').lock!('k', 60)).toBeTypeOf('function');
    expect(await storeIn(b, 'closing').lock!('k', 60)).toBeNull();
    await c.close();
    const started = performance.now();
    let release: unknown = null;
    while (!release && performance.now() - started < 5000) release = await storeIn(b, 'closing').lock!('k', 60);
    expect(release).toBeTypeOf('function');
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('names keep apart: entries and locks of one app are not another\'s', async () => {
    await storeIn(a, 'one').set('k', 'v1', 60);
    expect(await storeIn(b, 'two').get('k')).toBeNull(); // (undefined, as remote-store.mjs carries it)
    expect(await storeIn(a, 'one').lock!('k', 60)).toBeTypeOf('function');
    expect(await storeIn(b, 'two').lock!('k', 60)).toBeTypeOf('function');
  });

  it('entries are kept as [name, key] → { value, expires } in the key\'s database; expired ones are swept when a tab connects', async () => {
    await storeIn(a, 'layout').set('t:x', 'value', 60);
    await a.evaluate(() => window.tabStore.rawPut(['layout', 't:old'], { value: 'gone', expires: Date.now() - 1 }));
    const entries = await a.evaluate(() => window.tabStore.rawEntries());
    expect(entries.find((e) => JSON.stringify(e.key) === '["layout","t:x"]')).toEqual({ key: ['layout', 't:x'], value: { value: 'value', expires: expect.any(Number) } });
    const c = await tabs.open(); // a new tab's first connection
    expect(await storeIn(c, 'layout').get('t:x')).toBe('value');
    await expect.poll(async () => (await c.evaluate(() => window.tabStore.rawEntries())).some((e) => JSON.stringify(e.key) === '["layout","t:old"]')).toBe(false);
    await c.close();
  });

  it('sign-out: deleteKeyPair(name) deletes the key and every entry of that name in one go, and leaves other names alone', async () => {
    await a.evaluate(() => window.tabStore.key('leaving'));
    for (const key of ['t:token', 't:token refresh', 'n:nonce']) await storeIn(a, 'leaving').set(key, 'v', 60);
    await storeIn(a, 'staying').set('t:token', 'v', 60);
    await b.evaluate(() => window.tabStore.signOut('leaving'));
    const keys = (await a.evaluate(() => window.tabStore.rawEntries())).map((e) => JSON.stringify(e.key));
    expect(keys.filter((k) => k.startsWith('["leaving"'))).toEqual([]);
    expect(keys).toContain('["staying","t:token"]');
  });

  it('checkSession: on for the stored key (then at once); ERR_LOGIN_REQUIRED in every tab after a sign-out in one, for another key, and with no key stored', async () => {
    const jkt = await a.evaluate(() => window.tabStore.key('session'));
    expect(await a.evaluate((j) => window.tabStore.session('session', j), jkt)).toEqual({ on: true, at_once: false }); // looked once
    expect(await a.evaluate((j) => window.tabStore.session('session', j), jkt)).toEqual({ on: true, at_once: true });
    expect(await b.evaluate((j) => window.tabStore.session('session', j), jkt)).toEqual({ on: true, at_once: false });
    expect(await a.evaluate(() => window.tabStore.session('session', 'another-key-thumbprint'))).toMatchObject({ on: false, code: 'ERR_LOGIN_REQUIRED' });
    expect(await a.evaluate(() => window.tabStore.session('never-signed-in', 'a-thumbprint'))).toMatchObject({ on: false, code: 'ERR_LOGIN_REQUIRED' });

    await b.evaluate(() => window.tabStore.signOut('session'));
    // Tab b signed out: it knows at once; tab a by message, without looking in IndexedDB again.
    const out = await b.evaluate((j) => window.tabStore.session('session', j), jkt);
    expect(out).toMatchObject({ on: false, name: 'DPoPError', code: 'ERR_LOGIN_REQUIRED' });
    expect(out.message).toMatch(/signed out \(deleteKeyPair, in this tab or another\).*no request was sent with a token\. Sign in again\./);
    await expect.poll(() => a.evaluate((j) => window.tabStore.session('session', j), jkt)).toMatchObject({ on: false, code: 'ERR_LOGIN_REQUIRED' });
    // A new sign-in makes a new key: its session is on; the old key's stays out.
    const next = await a.evaluate(() => window.tabStore.key('session'));
    expect(await a.evaluate((j) => window.tabStore.session('session', j), next)).toMatchObject({ on: true });
    expect(await a.evaluate((j) => window.tabStore.session('session', j), jkt)).toMatchObject({ on: false });
    // Another key put under the name (another tab signed in again): the old one is out once looked at.
    const c = await tabs.open();
    expect(await c.evaluate((j) => window.tabStore.session('session', j), next)).toMatchObject({ on: true });
    await b.evaluate(() => window.tabStore.replaceKey('session'));
    await c.evaluate(() => document.dispatchEvent(new Event('resume'))); // it slept: it looks again
    expect(await c.evaluate((j) => window.tabStore.session('session', j), next)).toMatchObject({ on: false, code: 'ERR_LOGIN_REQUIRED' });
    await c.close();
  });

  it('without Web Locks: the lease is an entry beside the values, and a tab that closes holds it until its TTL', async () => {
    expect(await oldA.evaluate(() => Boolean(navigator.locks))).toBe(false);
    const c = await tabs.open(withoutWebLocks);
    expect(await storeIn(c, 'lease-closing').lock!('k', 1)).toBeTypeOf('function');
    const keys = (await c.evaluate(() => window.tabStore.rawEntries())).map((e) => JSON.stringify(e.key));
    expect(keys).toContain('["lease-closing","k","lock"]');
    await c.close();
    expect(await storeIn(oldB, 'lease-closing').lock!('k', 1)).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await storeIn(oldB, 'lease-closing').lock!('k', 1)).toBeTypeOf('function');
    // The session is checked there as well.
    const jkt = await oldA.evaluate(() => window.tabStore.key('old'));
    expect(await oldA.evaluate((j) => window.tabStore.session('old', j), jkt)).toMatchObject({ on: true });
  });

  it('where IndexedDB refuses (a private window), calls reject with ERR_KEY_STORE', async () => {
    const closed = await tabs.open(() => {
      IDBFactory.prototype.open = () => {
        throw new DOMException('A mutation operation was attempted on a database that did not allow mutations.', 'InvalidStateError');
      };
    });
    expect(await closed.evaluate(() => window.tabStore.once({ name: 'x' }, 'get'))).toMatchObject({ name: 'DPoPError', code: 'ERR_KEY_STORE', message: expect.stringContaining('could not be opened') });
    await closed.close();
  });

  it('checks its options: coded TypeErrors naming the option', async () => {
    expect(await a.evaluate(() => window.tabStore.argument('app'))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: '"options" must be an object' });
    expect(await a.evaluate(() => window.tabStore.argument({ name: 1 }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.name" must be a string' });
    expect(await a.evaluate(() => window.tabStore.argument({ name: '' }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: '"options.name" must not be empty' });
    expect(await a.evaluate(() => window.tabStore.argument({ locks: {} }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.locks" must be a LockManager' });
    expect(await a.evaluate(() => window.tabStore.argument({ indexedDB: {} }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: '"options.indexedDB" must be an IDBFactory' });
  });
});
