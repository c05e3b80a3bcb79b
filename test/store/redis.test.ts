// redisStore (src/store/redis.ts) against a real redis-server, through every client library a
// user may hold: node-redis 4, 5 and 6, ioredis 5 and 6. Redis itself is the judge of what was
// written (a raw client reads keys and TTLs back), and a real process dies holding the lock.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import IORedis from 'ioredis';
import IORedis5 from 'ioredis-v5';
import { createClient as createClient6, createCluster as createCluster6, RESP_TYPES } from 'redis';
import { createClient as createClient5, createCluster as createCluster5 } from 'redis-v5';
import { createClient as createClient4, createCluster as createCluster4 } from 'redis-v4';
import { redisStore, type RedisClient } from '../../src/store/redis.ts';
import type { DPoPStore } from '../../src/store/dpop-store.ts';
import { ensureBuilt, root } from '../support/child.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { storeContract, type StorePair } from './contract.ts';

interface Connection {
  client: RedisClient;
  close(): Promise<unknown>;
}

/** How each library connects and disconnects; two connections of each stand for two instances. */
const libraries: Record<string, (url: string) => Promise<Connection>> = {
  'node-redis 6': async (url) => {
    const client = await createClient6({ url }).connect();
    return { client, close: () => client.close() };
  },
  'node-redis 5': async (url) => {
    const client = await createClient5({ url }).connect();
    return { client, close: () => client.close() };
  },
  'node-redis 4': async (url) => {
    const client = createClient4({ url });
    await client.connect();
    return { client, close: () => client.quit() };
  },
  'ioredis 6': async (url) => {
    const client = new IORedis(url);
    return { client, close: () => client.quit() };
  },
  'ioredis 5': async (url) => {
    const client = new IORedis5(url);
    return { client, close: () => client.quit() };
  },
};

let server: RedisServer;
let raw: IORedis; // reads what the adapters wrote, as Redis holds it
const connections: Connection[] = [];
const clients = new Map<string, [RedisClient, RedisClient]>();
/**
 * Two instances' stores on one library's two connections, made afresh by each test that asks
 * (only the connections outlive a test), so that every test runs redisStore itself.
 */
const pair = (name: string): StorePair => {
  const [one, two] = clients.get(name)!;
  return { a: redisStore(one), b: redisStore(two) };
};
const pairs = () => [...clients.keys()].map((name): [string, StorePair] => [name, pair(name)]);

beforeAll(async () => {
  server = await startRedis();
  raw = new IORedis(server.url);
  for (const [name, connect] of Object.entries(libraries)) {
    const [one, two] = [await connect(server.url), await connect(server.url)];
    connections.push(one, two);
    clients.set(name, [one.client, two.client]);
  }
});

afterAll(async () => {
  await Promise.allSettled([...connections.map((c) => c.close()), raw?.quit()]);
  await server?.stop();
});

for (const name of Object.keys(libraries)) storeContract(`redisStore (${name})`, () => pair(name), { lock: true });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('redisStore: what Redis holds', () => {
  it('set is SET … PX: the value under <prefix>value:<key>, with its TTL in Redis', async () => {
    for (const [name, { a }] of pairs()) {
      await a.set(`ttl-${name}`, 'v', 30);
      expect(await raw.get(`dpop-fetch:value:ttl-${name}`)).toBe('v');
      const pttl = await raw.pttl(`dpop-fetch:value:ttl-${name}`);
      expect(pttl, name).toBeGreaterThan(29_000);
      expect(pttl, name).toBeLessThanOrEqual(30_000);
      await a.delete(`ttl-${name}`);
      expect(await raw.exists(`dpop-fetch:value:ttl-${name}`)).toBe(0);
    }
  });

  it('lock is SET … NX PX of a fresh random token under <prefix>lock:<key>; release deletes only that token', async () => {
    for (const [name, { a }] of pairs()) {
      const key = `dpop-fetch:lock:cad-${name}`;
      const release = (await a.lock!(`cad-${name}`, 10))!;
      const token = await raw.get(key);
      expect(token, name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const pttl = await raw.pttl(key);
      expect(pttl, name).toBeGreaterThan(9_000);
      expect(pttl, name).toBeLessThanOrEqual(10_000);
      // Another holder owns the key now (as after this one's TTL ran out): release leaves it alone.
      await raw.set(key, 'another-holder', 'PX', 10_000);
      await release();
      expect(await raw.get(key), name).toBe('another-holder');
      await raw.del(key);
      const second = (await a.lock!(`cad-${name}`, 10))!;
      expect(await raw.get(key), name).not.toBe(token); // a new token for every lock taken
      await second();
      expect(await raw.exists(key), name).toBe(0);
    }
  });

  it('node-redis and ioredis instances share one store: values and the lock', async () => {
    const nodeRedis = pair('node-redis 6').a;
    const ioredis = pair('ioredis 6').a;
    await nodeRedis.set('mixed', 'from node-redis', 60);
    expect(await ioredis.get('mixed')).toBe('from node-redis');
    const release = await ioredis.lock!('mixed', 30);
    expect(release).toBeTypeOf('function');
    expect(await nodeRedis.lock!('mixed', 30)).toBeNull();
    await release!();
    expect(await nodeRedis.lock!('mixed', 30)).toBeTypeOf('function');
  });

  it('a node-redis client mapped to answer Buffers still reads text', async () => {
    const [client] = connections as [{ client: ReturnType<typeof createClient6> }];
    const bytes = redisStore(client.client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }));
    await bytes.set('bytes', 'ünïcødé', 60);
    expect(await bytes.get('bytes')).toBe('ünïcødé');
  });

  it('options.prefix: every key lives under it', async () => {
    const store = redisStore(raw, { prefix: 'app1:' });
    await store.set('k', 'v', 60);
    expect(await raw.get('app1:value:k')).toBe('v');
    expect(await store.lock!('k', 30)).toBeTypeOf('function');
    expect(await raw.exists('app1:lock:k')).toBe(1);
    expect(await pair('ioredis 6').a.get('k')).toBeNull(); // not under the default prefix
  });

  it('a process that dies holding the lock keeps it taken until its TTL, then another instance takes it', async () => {
    await ensureBuilt();
    const script = `
      import Redis from 'ioredis';
      import { redisStore } from 'dpop-fetch/store';
      const release = await redisStore(new Redis(process.argv[1])).lock('dead-holder', 1.5);
      console.log(release ? 'locked' : 'refused');
      setInterval(() => {}, 1000); // holds on until killed`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, server.url], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const said = await new Promise<string>((resolve, reject) => {
        child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
        child.once('exit', (code) => reject(new Error(`the holder exited (${code}) before taking the lock`)));
      });
      expect(said).toBe('locked');
    } finally {
      child.kill('SIGKILL');
    }
    const { b } = pair('node-redis 6');
    expect(await b.lock!('dead-holder', 30)).toBeNull(); // its holder is dead, but the lock holds
    await sleep(2000);
    expect(await b.lock!('dead-holder', 30)).toBeTypeOf('function'); // freed by its TTL
  });
});

describe('redisStore: argument checks', () => {
  const wrongClient = { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: '"client" must be a node-redis or ioredis client' };
  const thrown = (make: () => DPoPStore) => {
    try {
      make();
    } catch (err) {
      const { name, code, message } = err as TypeError & { code: string };
      return { name, code, message };
    }
    return {};
  };

  it('refuses what is not a node-redis or ioredis client', () => {
    const lookalike = { get: async () => null, set: async () => 'OK', del: async () => 1, eval: async () => 0 };
    for (const client of [undefined, null, 'redis://localhost', {}, lookalike, new Map()]) {
      expect(thrown(() => redisStore(client as never))).toEqual(wrongClient);
    }
    // Half of a library's marks is neither library: ioredis has both status and defineCommand,
    // node-redis both isOpen and EVAL.
    const marks = [{ status: 'ready' }, { defineCommand() {} }, { isOpen: true }, { EVAL: async () => 0 }];
    for (const mark of marks) expect(thrown(() => redisStore({ ...lookalike, ...mark } as never)), Object.keys(mark)[0]).toEqual(wrongClient);
    // A real client without one of the four commands it needs.
    for (const method of ['get', 'set', 'del', 'eval']) {
      expect(thrown(() => redisStore(Object.assign(Object.create(raw), { [method]: undefined }))), method).toEqual(wrongClient);
    }
  });

  it('takes a node-redis cluster (4, 5, 6: it has no options object) and an ioredis client whatever its options', () => {
    for (const make of [createCluster6, createCluster5, createCluster4]) {
      expect(thrown(() => redisStore(make({ rootNodes: [{ url: server.url }] }) as never))).toEqual({});
    }
    // legacyMode is node-redis's: an ioredis client given it (ioredis keeps unknown options) is still ioredis.
    const io = new IORedis({ lazyConnect: true, legacyMode: true } as never);
    expect(thrown(() => redisStore(io))).toEqual({});
    io.disconnect();
  });

  it("refuses a node-redis v4 legacyMode client, whose commands take callbacks, saying what to pass", () => {
    const legacy = createClient4({ legacyMode: true });
    expect(thrown(() => redisStore(legacy as never))).toEqual({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: '"client" is a node-redis legacyMode client: pass one made without legacyMode (its commands return promises)',
    });
  });

  it('checks options', () => {
    expect(thrown(() => redisStore(raw, 'x' as never))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: '"options" must be an object' });
    expect(thrown(() => redisStore(raw, { prefix: 5 as never }))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: '"options.prefix" must be a string' });
  });
});
