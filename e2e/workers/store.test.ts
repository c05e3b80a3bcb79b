// Inside workerd: the dpop-fetch/store adapters for Workers on real bindings, from the built
// package. The contract suite runs with two Workers in two isolates: this one, and store-host
// (e2e/workers/store-host.mjs), which serves the same calls through its own adapters. Both are
// bound to one Durable Object namespace (whose class store-host hosts) and one KV namespace.
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { DPoPStoreObject, durableObjectStore, workersKvStore, type DurableObjectNamespaceLike, type WorkersKvNamespace } from 'dpop-fetch/store';
import { storeContract } from '../../test/store/contract.ts';
import { decode, encode, remoteStore } from '../../test/support/remote-store.mjs';

interface KvNamespace extends WorkersKvNamespace {
  put(key: string, value: string, options?: { expirationTtl?: number; metadata?: unknown }): Promise<void>;
}
interface DoNamespace extends DurableObjectNamespaceLike {
  get(id: object): { fetch(input: string, init?: RequestInit): Promise<Response> };
}
const bindings = env as unknown as { KV: KvNamespace; STORE: DoNamespace; LOCAL_STORE: DoNamespace; HOST: { fetch(input: string, init?: RequestInit): Promise<Response> } };

/** The same adapter, in the other Worker's isolate. */
const inOtherWorker = (store: 'do' | 'kv') =>
  remoteStore(async (call) => decode(await (await bindings.HOST.fetch('https://store-host/', { method: 'POST', body: encode({ store, call }) })).text()));

storeContract('durableObjectStore (two Workers, one Durable Object)', () => ({ a: durableObjectStore(bindings.STORE), b: inOtherWorker('do') }), { lock: true });
storeContract('workersKvStore (two Workers, one KV namespace)', () => ({ a: workersKvStore(bindings.KV), b: inOtherWorker('kv') }), { lock: false });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('in workerd', () => {
  it('runs in workerd, not Node', () => {
    expect(navigator.userAgent).toBe('Cloudflare-Workers');
  });
});

describe('workersKvStore: what KV holds', () => {
  it("KV itself refuses an expirationTtl under 60 s; the store's sub-minute TTLs are kept for 60 s and hidden by the expiry in their metadata", async () => {
    await expect(bindings.KV.put('raw', 'v', { expirationTtl: 1 })).rejects.toThrow(/60/);
    const before = Date.now();
    await workersKvStore(bindings.KV).set('short', 'v', 0.5);
    const { value, metadata } = await bindings.KV.getWithMetadata('dpop-fetch:short', 'text');
    expect(value).toBe('v');
    const { expires } = metadata as { expires: number };
    expect(expires).toBeGreaterThanOrEqual(before + 500);
    expect(expires).toBeLessThanOrEqual(Date.now() + 500);
  });

  it('an entry written without that metadata (not by this adapter) is not read as a value', async () => {
    await bindings.KV.put('dpop-fetch:foreign', 'v', { expirationTtl: 60 });
    expect(await workersKvStore(bindings.KV).get('foreign')).toBeNull();
  });

  it('options.prefix: keys live under it', async () => {
    await workersKvStore(bindings.KV, { prefix: 'app1/' }).set('k', 'v', 60);
    expect((await bindings.KV.getWithMetadata('app1/k', 'text')).value).toBe('v');
    expect(await workersKvStore(bindings.KV).get('k')).toBeNull();
  });
});

describe('DPoPStoreObject', () => {
  it('each name is its own object: its own values and locks', async () => {
    const [one, two] = [durableObjectStore(bindings.STORE, 'one'), durableObjectStore(bindings.STORE, 'two')];
    await one.set('k', 'in one', 60);
    expect(await two.get('k')).toBeNull();
    expect(await one.lock!('k', 30)).toBeTypeOf('function');
    expect(await two.lock!('k', 30)).toBeTypeOf('function');
  });

  it('keeps entries in its own storage; its alarm deletes the expired ones and comes back while some are left', async () => {
    const store = durableObjectStore(bindings.LOCAL_STORE, 'sweep');
    await store.set('gone', 'v', 0.2);
    await store.set('kept', 'v', 60);
    await store.lock!('gone', 0.2);
    await sleep(400);
    const stub = bindings.LOCAL_STORE.get(bindings.LOCAL_STORE.idFromName('sweep')) as never;
    const look = () =>
      runInDurableObject(stub, async (instance: unknown, state: { storage: { list(): Promise<Map<string, unknown>>; getAlarm(): Promise<number | null> } }) => {
        expect(instance).toBeInstanceOf(DPoPStoreObject);
        return { keys: [...(await state.storage.list()).keys()].sort(), alarm: await state.storage.getAlarm() };
      });
    const before = await look();
    expect(before.keys).toEqual(['lock:gone', 'value:gone', 'value:kept']); // expired, hidden, not yet deleted
    expect(before.alarm).toBeTypeOf('number');
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await look();
    expect(after.keys).toEqual(['value:kept']);
    expect(after.alarm).toBeTypeOf('number'); // 'kept' will expire: swept later
  });

  it('answers 400 to anything but a store call, and writes nothing', async () => {
    const stub = bindings.LOCAL_STORE.get(bindings.LOCAL_STORE.idFromName('garbage'));
    for (const init of [{ method: 'GET' }, { method: 'POST', body: 'not json' }, { method: 'POST', body: '{"op":"set","key":"k","value":"v","ms":-1}' }, { method: 'POST', body: '{"op":"drop","key":"k"}' }]) {
      const response = await stub.fetch('https://dpop-store.invalid/', init);
      expect(response.status).toBe(400);
      await response.body?.cancel();
    }
    expect(await durableObjectStore(bindings.LOCAL_STORE, 'garbage').get('k')).toBeNull();
  });
});

describe('argument checks', () => {
  const thrown = (make: () => unknown) => {
    try {
      make();
    } catch (err) {
      const { name, code, message } = err as TypeError & { code: string };
      return { name, code, message };
    }
    return {};
  };
  const type = (message: string) => ({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message });

  it('durableObjectStore(namespace, name?)', () => {
    expect(thrown(() => durableObjectStore(bindings.KV as never))).toEqual(type('"namespace" must be a Durable Object namespace binding'));
    expect(thrown(() => durableObjectStore(undefined as never))).toEqual(type('"namespace" must be a Durable Object namespace binding'));
    expect(thrown(() => durableObjectStore(bindings.STORE, 5 as never))).toEqual(type('"name" must be a string'));
    expect(thrown(() => durableObjectStore(bindings.STORE, ''))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: '"name" must not be empty' });
  });

  it('workersKvStore(namespace, options?)', () => {
    expect(thrown(() => workersKvStore(bindings.STORE as never))).toEqual(type('"namespace" must be a Workers KV namespace binding'));
    expect(thrown(() => workersKvStore(bindings.KV, { prefix: 1 as never }))).toEqual(type('"options.prefix" must be a string'));
  });
});
