// The package as users install it: what a bundler keeps, and what the browser-only entry does
// where there is no browser.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';
import { DPoPError } from 'dpop-fetch';
import { loadOrCreateKeyPair } from 'dpop-fetch/indexeddb';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * An app's bundle of `source`, made by esbuild as a browser app's build would make it; `lazy`:
 * what loads up front only, every `import()` left out as a bundler leaves it to a later chunk.
 */
async function bundle(source, { lazy = false } = {}) {
  /** @type {import('esbuild').Plugin} */
  const upFront = { name: 'up-front', setup: (build) => build.onResolve({ filter: /.*/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined)) };
  const result = await esbuild.build({
    plugins: lazy ? [upFront] : [],
    stdin: { contents: source, resolveDir: root, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    minify: true,
    metafile: true,
    logLevel: 'silent',
  });
  return { text: result.outputFiles[0].text, inputs: Object.keys(result.metafile.inputs) };
}

describe('tree-shaking', () => {
  it("an app importing createDPoPFetch from 'dpop-fetch' ships no IndexedDB code", async () => {
    const { text, inputs } = await bundle(`import { createDPoPFetch } from 'dpop-fetch'; console.log(createDPoPFetch);`);
    expect(inputs).toContain('dist/fetch.js'); // it did bundle the package, from dist/
    expect(inputs).not.toContain('dist/store/indexeddb.js');
    expect(text).not.toContain('indexedDB');
  });

  it("an app importing 'dpop-fetch' ships no discovery: no metadata code, no PAR, no well-known URL", async () => {
    const { text, inputs } = await bundle(`import { createDPoPFetch, clientCredentials, authorizationCode, refreshToken } from 'dpop-fetch'; console.log(createDPoPFetch, clientCredentials, authorizationCode, refreshToken);`);
    expect(inputs).toContain('dist/grants/authorization-code.js');
    expect(inputs.filter((file) => file.startsWith('dist/discovery') || /discovered|par\.js/.test(file))).toEqual([]);
    expect(text).not.toContain('.well-known');
  });

  it("an app importing clientCredentials from 'dpop-fetch/discovery' ships discovery but not the authorization code grant", async () => {
    const { text, inputs } = await bundle(`import { clientCredentials } from 'dpop-fetch/discovery'; console.log(clientCredentials);`);
    expect(inputs).toContain('dist/discovery/protected-resource.js');
    expect(text).toContain('.well-known/oauth-protected-resource');
    expect(text).not.toContain('code_challenge');
  });

  it('what follows redirects (dist/redirect.js) loads on the first redirect followed: behind import(), not up front, and it imports nothing the core has', async () => {
    const source = `import { createDPoPFetch } from 'dpop-fetch'; console.log(createDPoPFetch);`;
    const upFront = await bundle(source, { lazy: true });
    expect(upFront.inputs).toContain('dist/fetch.js');
    expect(upFront.inputs).not.toContain('dist/redirect.js');
    expect(upFront.text).toContain('./redirect.js'); // the import() a redirect triggers
    const whole = await bundle(source); // the check can fail: with the lazy chunk, it is there
    expect(whole.inputs).toContain('dist/redirect.js');
    // A module it shared with the core would be split into a chunk of its own by bundlers.
    const alone = await bundle(`export * from './dist/redirect.js';`);
    expect(alone.inputs.filter((input) => input !== '<stdin>')).toEqual(['dist/redirect.js']);
  });

  it("an app importing 'dpop-fetch/indexeddb' does ship it (the check above can fail)", async () => {
    const { text, inputs } = await bundle(`import { loadOrCreateKeyPair } from 'dpop-fetch/indexeddb'; console.log(loadOrCreateKeyPair);`);
    expect(inputs).toContain('dist/store/indexeddb.js');
    expect(text).toContain('indexedDB');
  });
});

describe('dpop-fetch/store', () => {
  it("an app importing createDPoPFetch ships no store adapter", async () => {
    const { inputs } = await bundle(`import { createDPoPFetch } from 'dpop-fetch'; console.log(createDPoPFetch);`);
    expect(inputs.filter((input) => input.startsWith('dist/store/'))).toEqual([]);
  });

  it('the sharing code (dist/sharing/) loads only when a store is given: behind import(), not up front', async () => {
    const source = `import { createDPoPFetch } from 'dpop-fetch'; console.log(createDPoPFetch);`;
    const upFront = await bundle(source, { lazy: true });
    expect(upFront.inputs).toContain('dist/fetch.js');
    expect(upFront.inputs.filter((input) => input.startsWith('dist/sharing/'))).toEqual([]);
    expect(upFront.text).toContain('sharing/share.js'); // the import() a store triggers
    const whole = await bundle(source); // the check can fail: with the lazy chunk, it is there
    expect(whole.inputs).toContain('dist/sharing/shared-token.js');
  });

  it('bundles from the package alone: no runtime dependency, nothing from cloudflare:workers', async () => {
    const { text, inputs } = await bundle(`export * from 'dpop-fetch/store';`);
    expect(inputs).toContain('dist/store/redis.js'); // it did bundle the adapters, from dist/
    expect(inputs.filter((input) => input !== '<stdin>' && !input.startsWith('dist/'))).toEqual([]);
    expect(text).not.toContain('cloudflare:');
  });

  it('loads in Node, where no adapter\'s engine is: each adapter is a function, DPoPStoreObject a class', async () => {
    const store = await import('dpop-fetch/store');
    expect(Object.keys(store).sort()).toEqual(['DPoPStoreObject', 'denoKvStore', 'durableObjectStore', 'memoryStore', 'redisStore', 'workersKvStore']);
  });

  it("accepts every Redis client's own type: node-redis 4, 5, 6 and ioredis 5, 6, clusters too (tsc on dist/*.d.ts)", async () => {
    const run = await promisify(execFile)(`${root}node_modules/.bin/tsc`, ['-p', 'e2e/node/types/tsconfig.json'], { cwd: root }).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (e) => ({ code: e.code, output: String(e.stdout) + String(e.stderr) }),
    );
    expect(run).toEqual({ code: 0, output: '' });
  });
});

describe('the IndexedDB key store outside a browser', () => {
  it('fails with ERR_KEY_STORE saying what to do instead, not a crash', async () => {
    const err = await loadOrCreateKeyPair({ name: 'x' }).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(DPoPError);
    expect(err.code).toBe('ERR_KEY_STORE');
    expect(err.message).toBe(
      'The IndexedDB key store is not available in this runtime. Private browsing or storage settings may block IndexedDB; without it, keep the key in memory (generateKeyPair) and accept a new key per page load.',
    );
  });
});

describe('the README snippets', () => {
  it("type-check against the package's published declarations (dist/*.d.ts), as an app would", async () => {
    // tsc exits non-zero and prints the errors when a snippet misuses the API.
    const run = await promisify(execFile)(`${root}node_modules/.bin/tsc`, ['-p', 'e2e/snippets/tsconfig.json'], { cwd: root }).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (e) => ({ code: e.code, output: String(e.stdout) + String(e.stderr) }),
    );
    expect(run).toEqual({ code: 0, output: '' });
  });
});
