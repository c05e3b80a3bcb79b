// @ts-check
// What `npm run mutation` mutates and `npm run coverage` measures, and the test files they leave
// out. test/MUTANTS.md says why each is in or out.

/** The library modules in scope (globs from the repository root). */
export const scope = [
  'src/**/*.ts',
  // The command line: Node-only, run by its tests as a child process from dist/, where no mutant lives.
  '!src/cli/**',
  // IndexedDB and Web Locks exist only in browsers: the Chromium suites prove these files.
  '!src/store/indexeddb.ts',
  '!src/store/key-store.ts',
  '!src/store/tab-store.ts',
  '!src/store/idb.ts',
  // Proven only in their runtimes, which Stryker cannot drive: Deno KV in Deno child processes,
  // Workers KV and Durable Objects in workerd (e2e/workers/store.test.ts).
  '!src/store/deno-kv.ts',
  '!src/store/workers-kv.ts',
  '!src/store/durable-object.ts',
];

/** Test files of the Node suite that cannot kill a mutant in scope, or only slowly. */
export const excludedTests = [
  // The 10,000-request load test: 25 s per run, and every path it takes is covered by faster tests.
  'test/load.test.ts',
  // These run the built dist/ in child processes (the CLI, the demo, npm pack, deno publish):
  // a mutant in the sandbox's src/ never reaches them.
  'test/cli.test.ts',
  'test/cli.hostile.test.ts',
  'test/demo.test.ts',
  'test/registries.test.ts',
  // Reads the source files' text and line counts, which Stryker's instrumented copies change.
  'test/layout.test.ts',
  // denoKvStore runs inside Deno child processes, out of scope above.
  'test/store/deno-kv.test.ts',
  // indexedDbStore runs in Chromium tabs (a bundle of its own), out of scope above.
  'test/store/tab-store.test.ts',
  // Fleets of Node or Deno processes running the built dist/ (issue 15): the same reason as the CLI.
  'test/sharing/redis.fleet.test.ts',
  'test/sharing/deno-kv.fleet.test.ts',
];
