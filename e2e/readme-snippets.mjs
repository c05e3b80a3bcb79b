// @ts-check
// (Re)writes README.md's "Quick start per runtime" block, between `<!-- snippets:start -->` and
// `<!-- snippets:end -->`, its "Three ways to configure" block, between
// `<!-- configure:start -->` and `<!-- configure:end -->`, and its "Running many instances"
// snippets, between `<!-- fleet-snippets:start -->` and `<!-- fleet-snippets:end -->`, from the
// snippet files the tests run (e2e/snippets/). Each file's text goes verbatim between `<!-- snippet:NAME -->` and
// `<!-- /snippet:NAME -->`; e2e/node/readme.test.mjs fails when the README and the files differ.
//   node e2e/readme-snippets.mjs           rewrite README.md
//   node e2e/readme-snippets.mjs --check   exit 1 if README.md is out of date
import { readFile, writeFile } from 'node:fs/promises';

const root = new URL('..', import.meta.url);

/** Each runtime: its snippet file, its code-fence language, and what to say around it. */
export const SNIPPETS = [
  {
    name: 'node',
    file: 'e2e/snippets/node.mjs',
    lang: 'js',
    title: 'Node 20+',
    intro: 'A service calling a DPoP-protected API with the client-credentials grant. One key per process; tokens are fetched, retried with nonces and renewed ahead of expiry behind `api(...)`. The Node suite (`e2e/node/`) runs this file from the built package, imported by name.',
  },
  {
    name: 'browser',
    file: 'e2e/snippets/browser.ts',
    lang: 'ts',
    title: 'Browsers',
    intro: "A single-page app, in every tab: the user signs in once (authorization code, PKCE, `dpop_jkt`), and the tabs share the non-extractable key, one access token, the rotating refresh token and the servers' nonces through IndexedDB (`dpop-fetch/indexeddb`, a separate entry point: apps that do not import it do not ship it). One tab refreshes at a time under a Web Lock and the others use what it got, so a server that rotates refresh tokens never sees one twice; a reload resumes; sign-out in one tab stops every tab. The Chromium suite (`e2e/browser/tabs.spec.ts`) runs this file in three tabs of one origin against oidc-provider with refresh-token rotation and reuse detection and the API on two other origins: see \"Many tabs, one client\" below for what it measured.",
  },
  {
    name: 'deno',
    file: 'e2e/snippets/deno.ts',
    lang: 'ts',
    title: 'Deno',
    intro: 'The same library, unchanged. The Deno suite (`e2e/deno/`) runs this file twice: on `src/` as TypeScript and on the built `dist/`.',
  },
  {
    name: 'worker',
    file: 'e2e/snippets/worker.ts',
    lang: 'ts',
    title: 'Cloudflare Workers',
    intro: 'A Worker that calls the API for its own callers; the key and the token are kept per isolate and shared by concurrent requests. The Workers suite (`e2e/workers/`) runs this Worker in workerd (`@cloudflare/vitest-pool-workers`).',
  },
];

/** The three ways to say where tokens come from; e2e/node/configure.test.mjs runs each file. */
export const CONFIGURE = [
  {
    name: 'configure-endpoints',
    file: 'e2e/snippets/configure-endpoints.mjs',
    lang: 'js',
    title: '1. Endpoints',
    intro: 'The token endpoint given: nothing is discovered and nothing more is loaded. First contact costs 2 token and 2 API round trips against servers that demand nonces, then 1 per call.',
  },
  {
    name: 'configure-issuer',
    file: 'e2e/snippets/configure-issuer.mjs',
    lang: 'js',
    title: '2. Issuer',
    intro: "The issuer given, from `dpop-fetch/discovery`: its metadata (RFC 8414, else OpenID Connect Discovery) names the token endpoint and the client authentication it takes. One metadata request more, shared by every source and request that needs it, kept for its HTTP freshness (an hour when the server says nothing). `refreshToken`, `authorizationCode` and `authorizationCode.start` take `issuer` the same way.",
  },
  {
    name: 'configure-api-url',
    file: 'e2e/snippets/configure-api-url.mjs',
    lang: 'js',
    title: "3. The API's URL only",
    intro: "Neither, from `dpop-fetch/discovery`: the first call asks the API without a token, and its `401` names its metadata (`resource_metadata`, RFC 9728; else the well-known URLs are tried), which names its authorization server. The metadata's `resource` must cover the URL (same origin, its path a prefix), and the token is asked for it (`resource`, RFC 8707). Two metadata requests more, once; the API's nonce comes with its first answer, so the call with the token needs no retry: 6 round trips on first contact, then 1.",
  },
];

/** The FAPI 2.0 client of the PAR section; e2e/node/fapi.test.mjs runs it. */
export const FAPI = [{ name: 'fapi', file: 'e2e/snippets/fapi.ts', lang: 'ts' }];

/** One snippet per engine of a fleet: the same instance, with its key from one secret and a shared store. */
export const FLEET_SNIPPETS = [
  {
    name: 'fleet-node',
    file: 'e2e/snippets/fleet-node.mjs',
    lang: 'js',
    title: 'Node + Redis',
    intro: 'Any number of processes or pods, each with the same key (a PEM from one secret) and a Redis client (node-redis as here, or ioredis). `test/sharing/redis.fleet.test.ts` runs this file in half of 8 Node processes started together (the other half does the same with ioredis), against the real peers and a real `redis-server`.',
  },
  {
    name: 'fleet-deno',
    file: 'e2e/snippets/fleet-deno.ts',
    lang: 'ts',
    title: 'Deno + Deno KV',
    intro: "On Deno Deploy `Deno.openKv()` is the project's global KV; locally, a file every process opens. `test/sharing/deno-kv.fleet.test.ts` runs this file in two `deno run --unstable-kv` processes on one KV file.",
  },
  {
    name: 'fleet-worker',
    file: 'e2e/snippets/fleet-worker.ts',
    lang: 'ts',
    title: 'Cloudflare Workers + Durable Object or KV',
    intro: 'Every isolate of the Worker imports the same key from a secret. A Durable Object (`DPoPStoreObject`, exported from the Worker) gives a strongly consistent store with a lock; Workers KV has none (see below). The Workers suite (`e2e/workers/fleet.test.ts`) bundles this file and runs it as four Workers in workerd, each in its own isolate: two bound to one Durable Object, two to one KV namespace.',
  },
];

/** Each generated block: its markers, the sentence before its snippets, the snippets. */
const BLOCKS = [
  {
    start: '<!-- snippets:start -->',
    end: '<!-- snippets:end -->',
    // The README's own sentence above the block introduces the snippets; this adds what they run against.
    lead: 'Every suite runs its snippet against the same real servers: an oidc-provider authorization server and an oauth4webapi resource server, both demanding DPoP nonces, with 2- or 3-second tokens so that renewal happens during the run.',
    snippets: SNIPPETS,
  },
  {
    start: '<!-- configure:start -->',
    end: '<!-- configure:end -->',
    lead: 'The Node suite (`e2e/node/configure.test.mjs`) runs each file from the built package against the real peers and counts the round trips quoted here.',
    snippets: CONFIGURE,
  },
  {
    start: '<!-- fapi:start -->',
    end: '<!-- fapi:end -->',
    lead: 'The Node suite (`e2e/node/fapi.test.mjs`) runs this file against oidc-provider with its FAPI 2.0 profile and PAR required: sign in, call the API, refresh, call again.',
    snippets: FAPI,
  },
  {
    start: '<!-- fleet-snippets:start -->',
    end: '<!-- fleet-snippets:end -->',
    lead: 'Each snippet is a file its engine test runs against the real peers.',
    snippets: FLEET_SNIPPETS,
  },
];

/** The README text between a block's markers, as generated from the files. */
export async function renderBlock(block = BLOCKS[0]) {
  const parts = ['', block.lead, ''];
  for (const s of block.snippets) {
    const code = await readFile(new URL(s.file, root), 'utf8');
    if (s.title) parts.push(`### ${s.title}`, '', s.intro, '');
    parts.push(`<!-- snippet:${s.name} -->`, `\`\`\`${s.lang}`, code.endsWith('\n') ? code.slice(0, -1) : code, '```', `<!-- /snippet:${s.name} -->`, '');
  }
  return parts.join('\n');
}

/** README.md with every block replaced. */
export async function renderReadme() {
  const readme = await readFile(new URL('README.md', root), 'utf8');
  let next = readme;
  for (const block of BLOCKS) {
    const start = next.indexOf(block.start);
    const end = next.indexOf(block.end);
    if (start < 0 || end < start) throw new Error(`README.md has no ${block.start} ... ${block.end} block to fill`);
    next = next.slice(0, start + block.start.length) + '\n' + (await renderBlock(block)) + next.slice(end);
  }
  return { readme, next };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { readme, next } = await renderReadme();
  if (process.argv.includes('--check')) {
    if (readme !== next) {
      console.error('README.md snippets are out of date: run node e2e/readme-snippets.mjs');
      process.exit(1);
    }
    console.log('README.md snippets are up to date');
  } else if (readme === next) {
    console.log('README.md snippets already up to date');
  } else {
    await writeFile(new URL('README.md', root), next);
    console.log('README.md snippets rewritten from e2e/snippets/');
  }
}
