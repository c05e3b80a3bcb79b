// @ts-check
// (Re)writes README.md's "Quick start per runtime" block, between `<!-- snippets:start -->` and
// `<!-- snippets:end -->`, from the snippet files the end-to-end suites run (e2e/snippets/).
// Each file's text goes verbatim between `<!-- snippet:NAME -->` and `<!-- /snippet:NAME -->`;
// e2e/node/readme.test.mjs fails when the README and the files differ.
//   node e2e/readme-snippets.mjs           rewrite README.md
//   node e2e/readme-snippets.mjs --check   exit 1 if README.md is out of date
import { readFile, writeFile } from 'node:fs/promises';

const root = new URL('..', import.meta.url);
const START = '<!-- snippets:start -->';
const END = '<!-- snippets:end -->';

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
    intro: 'A single-page app keeps its non-extractable key in IndexedDB (`dpop-fetch/indexeddb`, a separate entry point: apps that do not import it do not ship it). After a reload the same key signs, so tokens bound to it stay valid. The Chromium suite (`e2e/browser/`) loads this file in a page on one origin that calls the authorization server and the API on two others, reloads it, and checks the key and `cnf.jkt` are unchanged.',
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

/** The README text between the markers, as generated from the files. */
export async function renderBlock() {
  // The README's own sentence above the block introduces the snippets; this adds what they run against.
  const parts = ['', 'Every suite runs its snippet against the same real servers: an oidc-provider authorization server and an oauth4webapi resource server, both demanding DPoP nonces, with 3-second tokens so that renewal happens during the run.', ''];
  for (const s of SNIPPETS) {
    const code = await readFile(new URL(s.file, root), 'utf8');
    parts.push(`### ${s.title}`, '', s.intro, '', `<!-- snippet:${s.name} -->`, `\`\`\`${s.lang}`, code.endsWith('\n') ? code.slice(0, -1) : code, '```', `<!-- /snippet:${s.name} -->`, '');
  }
  return parts.join('\n');
}

/** README.md with the block replaced. */
export async function renderReadme() {
  const readme = await readFile(new URL('README.md', root), 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} ... ${END} block to fill`);
  return { readme, next: readme.slice(0, start + START.length) + '\n' + (await renderBlock()) + readme.slice(end) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { readme, next } = await renderReadme();
  if (process.argv.includes('--check')) {
    if (readme !== next) {
      console.error('README.md quick-start snippets are out of date: run node e2e/readme-snippets.mjs');
      process.exit(1);
    }
    console.log('README.md quick-start snippets are up to date');
  } else if (readme === next) {
    console.log('README.md quick-start snippets already up to date');
  } else {
    await writeFile(new URL('README.md', root), next);
    console.log('README.md quick-start snippets rewritten from e2e/snippets/');
  }
}
