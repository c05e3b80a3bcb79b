#!/usr/bin/env node
/**
 * dpop-fetch, the command: `keygen`, `thumbprint`, or a call to a DPoP-protected API.
 * Runs in Node 20+ (`npx dpop-fetch`) and in Deno (`deno run --allow-net --allow-read
 * --allow-env dist/cli/main.js`); both provide the `node:` modules used here.
 *
 * Whatever fails ends as one line on stderr, `dpop-fetch: <what went wrong>; <what to do>`,
 * with exit status 2 for a wrong command line and 1 for anything else; the stack trace is
 * shown only with -v. No line ever holds the client secret.
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { calculateThumbprint } from '../index.ts';
import { flag, HELP, one, parseArgs, type Invocation } from './args.ts';
import { call } from './call.ts';
import { UsageError } from './errors.ts';
import { explain } from './explain.ts';
import { loadKey, newKey, passwordFor, writeKeyFile } from './files.ts';
import { printable, scrub } from './log.ts';

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// Every secret given on the command line, once it is read: nothing written to stderr holds one.
const secrets: string[] = [];
// Everything the CLI writes to stderr goes through here: secrets blanked wherever they occur,
// control characters a server may have sent shown escaped (issue 13).
const log = (text: string) => void process.stderr.write(printable(scrub(text, secrets)));

async function run(invocation: Invocation): Promise<void> {
  switch (invocation.command) {
    case 'help':
      process.stdout.write(HELP);
      return;
    case 'version':
      process.stdout.write(`dpop-fetch ${version()}\n`);
      return;
    case 'keygen': {
      const key = await newKey();
      const out = one(invocation, 'out');
      if (out) {
        await writeKeyFile(out.value, key.pem);
        log(`wrote a new P-256 private key to ${out.value} (PKCS#8 PEM, mode 0600); its thumbprint (cnf.jkt of tokens bound to it):\n`);
        process.stdout.write(`${key.thumbprint}\n`);
      } else {
        process.stdout.write(key.pem);
        log(`thumbprint: ${key.thumbprint}\n`);
      }
      return;
    }
    case 'thumbprint': {
      const key = one(invocation, 'key');
      if (!key) throw new UsageError('dpop-fetch thumbprint needs --key <file> (or DPOP_KEY); give the key file');
      process.stdout.write(`${await calculateThumbprint(await loadKey(key, { password: await passwordFor(invocation, 'key') }))}\n`);
      return;
    }
    case 'call':
      return call(invocation, { stdout: process.stdout, log }, secrets);
  }
}

async function main(argv: string[]): Promise<number> {
  // Known before parsing, so that even a usage error can show its stack with -v.
  let verbose = argv.some((a) => a === '--verbose' || a === '--decode' || /^-[a-zA-Z]*v/.test(a));
  let invocation: Invocation | undefined;
  try {
    invocation = parseArgs(argv, process.env);
    verbose = flag(invocation, 'verbose') || flag(invocation, 'decode');
    const secret = one(invocation, 'client-secret')?.value;
    if (secret) secrets.push(secret);
    await run(invocation);
    return 0;
  } catch (err) {
    const { message, exitCode } = explain(err, {
      settings: invocation?.settings,
      url: invocation?.url,
      maxTime: invocation && one(invocation, 'max-time')?.value,
    });
    if (verbose && err instanceof Error && !(err instanceof UsageError)) log(`${err.stack}\n`);
    log(`dpop-fetch: ${message}\n`);
    return exitCode;
  }
}

// A reader that goes away (dpop-fetch … | head) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});
process.exitCode = await main(process.argv.slice(2));
