// @ts-check
/**
 * `npm run size`: what each job costs a browser bundle. Each entry is bundled by esbuild
 * (minified, tree-shaken, ESM, browser platform) from the built package, then compressed with
 * gzip -9 and brotli (quality 11) by node:zlib. Beside each dpop-fetch figure stands the same
 * measurement for the `dpop` package and for oauth4webapi's imports that do the same job.
 * Prints markdown and rewrites the README section between `<!-- size:start -->` and
 * `<!-- size:end -->` (not with `--no-readme`).
 */
import * as esbuild from 'esbuild';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { stripProse } from './bench/prose.mjs';
import { machine, noReadme, table, versionOf, writeReadmeSection } from './bench/report.mjs';

const root = new URL('..', import.meta.url).pathname;

const brotli = (/** @type {Uint8Array} */ code) => brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT } }).length;
const gzip = (/** @type {Uint8Array | string} */ code) => gzipSync(code, { level: 9 }).length;

/**
 * Keeps every `import()` out of the bundle, as a bundler keeps a lazily loaded module in a chunk
 * that loads only when the feature runs. (esbuild's own code splitting is not used to measure
 * this: it treats each `import()` target as an entry point before tree shaking and cuts the
 * core into several chunks, esbuild issues #3704 and #3252, which no app bundler does.)
 * @type {esbuild.Plugin}
 */
const lazyImportsExternal = {
  name: 'lazy-imports-external',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined));
  },
};

/**
 * Bundles an entry as an app's bundler would. What a job costs is what loads before its code
 * runs: the bundle with every `import()` left out. What loads lazily, only when a feature that
 * needs it is used, is reported apart (`lazy`): the whole bundle with the lazy modules inlined,
 * minus what loads up front.
 * @param {string} contents an ESM entry that re-exports what the job needs
 */
async function measure(contents) {
  /** @param {esbuild.Plugin[]} plugins */
  const build = async (plugins) => {
    const result = await esbuild.build({
      plugins,
      metafile: true,
      stdin: { contents, resolveDir: root, loader: 'js', sourcefile: 'entry.js' },
      bundle: true,
      minify: true,
      treeShaking: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    return { file: result.outputFiles[0], inputs: Object.values(result.metafile.outputs)[0].inputs };
  };
  const upFront = await build([lazyImportsExternal]);
  const whole = await build([]);
  const code = upFront.file.contents;
  // What the same bundle would weigh without its prose (error messages, nearly all).
  const prose = stripProse(upFront.file.text);
  await esbuild.transform(prose.rest, { loader: 'js' }); // still valid JavaScript, or the scanner is wrong
  const size = gzip(code);
  const lazy = gzip(whole.file.contents) - size;
  return {
    /** minified bytes each source file left in the bundle loaded up front */
    modules: Object.entries(upFront.inputs)
      .map(([file, { bytesInOutput }]) => /** @type {[string, number]} */ ([file, bytesInOutput]))
      .filter(([, bytes]) => bytes > 0),
    min: code.length,
    gzip: size,
    messages: { count: prose.count, gzipWithout: gzip(prose.rest) },
    brotli: brotli(code),
    /** what the lazily loaded modules add, min+gzip, when a feature that needs them is used */
    lazy: { count: whole.file.contents.length > code.length ? 1 : 0, gzip: lazy },
  };
}

const o4w = versionOf('oauth4webapi');
const dpopVersion = versionOf('dpop');
const joseVersion = versionOf('jose');

/** @type {Array<{ job: string, rows: Array<[string, string]> }>} label, entry source */
const jobs = [
  {
    job: 'Proofs only',
    rows: [
      ['dpop-fetch: `createProof`, `generateKeyPair`', `export { createProof, generateKeyPair } from './dist/index.js';`],
      [`${dpopVersion}: \`generateProof\`, \`generateKeyPair\``, `export { generateProof, generateKeyPair } from 'dpop';`],
      [`${o4w}: \`DPoP\`, \`generateKeyPair\`, \`protectedResourceRequest\` (it signs proofs only inside a request)`, `export { DPoP, generateKeyPair, protectedResourceRequest } from 'oauth4webapi';`],
      [`${joseVersion}: \`SignJWT\`, \`generateKeyPair\`, \`exportJWK\``, `export { SignJWT, generateKeyPair, exportJWK } from 'jose';`],
    ],
  },
  {
    job: 'The whole client: client-credentials tokens, proofs, nonces, retries',
    rows: [
      ['dpop-fetch: `createDPoPFetch`, `clientCredentials`', `export { createDPoPFetch, clientCredentials } from './dist/index.js';`],
      ['dpop-fetch core path: `generateKeyPair`, `createDPoPFetch`, `clientCredentials`', `export { generateKeyPair, createDPoPFetch, clientCredentials } from './dist/index.js';`],
      [
        `${o4w}: \`DPoP\`, \`clientCredentialsGrantRequest\`, \`processClientCredentialsResponse\`, \`protectedResourceRequest\`, \`generateKeyPair\`, \`ClientSecretPost\`, \`isDPoPNonceError\` (token caching and retries left to the caller)`,
        `export { DPoP, clientCredentialsGrantRequest, processClientCredentialsResponse, protectedResourceRequest, generateKeyPair, ClientSecretPost, isDPoPNonceError } from 'oauth4webapi';`,
      ],
    ],
  },
  {
    job: "Browser key store and the tabs' store",
    rows: [
      ['dpop-fetch: `dpop-fetch/indexeddb` (everything it exports)', `export * from './dist/store/indexeddb.js';`],
      ['dpop-fetch: `loadOrCreateKeyPair` alone (one tab, no store)', `export { loadOrCreateKeyPair } from './dist/store/indexeddb.js';`],
    ],
  },
  {
    job: 'Shared stores',
    rows: [
      ['dpop-fetch: `dpop-fetch/store` (everything it exports: five adapters and `DPoPStoreObject`)', `export * from './dist/store/index.js';`],
      ['dpop-fetch: `redisStore` alone', `export { redisStore } from './dist/store/index.js';`],
    ],
  },
  {
    job: 'Discovery and PAR (their own entry point; apps that give endpoints do not load them)',
    rows: [
      ['dpop-fetch: `clientCredentials` from `dpop-fetch/discovery` with `createDPoPFetch`, `generateKeyPair` (issuer or API URL only)', `export { clientCredentials } from './dist/discovery.js'; export { createDPoPFetch, generateKeyPair } from './dist/index.js';`],
      ['dpop-fetch: `dpop-fetch/discovery` (everything it exports)', `export * from './dist/discovery.js';`],
    ],
  },
];

const kb = (/** @type {number} */ bytes) => `${(bytes / 1024).toFixed(2)} KB`;
const sizes = new Map();
const sections = [];
for (const { job, rows } of jobs) {
  const measured = [];
  for (const [label, entry] of rows) {
    const size = await measure(entry);
    sizes.set(label, size);
    measured.push([label, `${size.min} B`, `**${size.gzip} B** (${kb(size.gzip)})`, `${size.brotli} B`, size.lazy.count ? `${size.lazy.gzip} B` : '']);
  }
  sections.push(`**${job}:**\n\n${table(['', 'minified', 'min + gzip -9', 'min + brotli', 'loaded lazily, when used (min + gzip)'], measured)}`);
}

const at = (/** @type {number} */ job, /** @type {number} */ row) => sizes.get(jobs[job].rows[row][0]);
const proofs = at(0, 0);
const client = at(1, 0);
const dpop = at(0, 1);
const o4wProofs = at(0, 2);
const core = at(1, 1);
const o4wClient = at(1, 2);
// The owner's budget for this wave (DESIGN.md, "Owner's decisions", 2026-11-26): the core path
// grows by at most 500 B over what it weighed when the wave started; proofs only stay ≤ 2 KB.
const CORE_AT_WAVE_START = 7933;
/** @type {Array<[string, string, boolean, string]>} */
const targets = [
  [`core path ≤ ${CORE_AT_WAVE_START + 500} B min+gzip (${CORE_AT_WAVE_START} B at this wave's start + 500 B)`, `${core.gzip} B (${core.gzip - CORE_AT_WAVE_START >= 0 ? '+' : ''}${core.gzip - CORE_AT_WAVE_START} B)`, core.gzip <= CORE_AT_WAVE_START + 500, 'see the breakdown above for what grew'],
  ['proofs only ≤ 2 KB (2048 B) min+gzip', `${proofs.gzip} B`, proofs.gzip <= 2048, 'argument checks with typed errors and the caches that keep `createProof` near the signing floor'],
  ['proofs only smaller than oauth4webapi for the same job', `${proofs.gzip} B vs ${o4wProofs.gzip} B (and ${dpop.gzip} B for \`dpop\`, which neither parses nor checks \`htu\`, \`htm\` or the nonce)`, proofs.gzip < o4wProofs.gzip, 'argument checks with typed errors'],
];

// Where the whole client's bytes come from: the first thing to read when it grows.
const breakdown = table(
  ['source file', 'minified bytes in the whole-client bundle'],
  [...client.modules].sort((a, b) => b[1] - a[1]).map(([file, bytes]) => [`\`${String(file).replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')}\``, bytes]),
);

const markdown = `
Measured by \`npm run size\` (esbuild ${esbuild.version}: bundled, minified, tree-shaken, ESM, \`platform: 'browser'\`; gzip level 9 and brotli quality 11 from node:zlib; ${machine()}). dpop-fetch is bundled from its built \`dist/\`, the others from their installed packages.

${sections.join('\n\n')}

Where the whole client's ${client.min} minified bytes come from (before compression). Its ${client.messages.count} string literals of five words or more (error messages that say what to do, nearly all) account for ${client.gzip - client.messages.gzipWithout} B of its min+gzip size: without them it would weigh ${client.messages.gzipWithout} B. For proofs only, they account for ${proofs.gzip - proofs.messages.gzipWithout} B (${proofs.messages.gzipWithout} B without).

${breakdown}

**Targets:**

${table(['target', 'result', 'met'], targets.map(([target, result, met, limit]) => [target, result, met ? 'yes' : `**no**: ${limit}`]))}
`;

console.log(markdown.trim());
if (!noReadme) {
  writeReadmeSection('size', markdown);
  process.stderr.write('README.md size section rewritten.\n');
}
