// The dpop-fetch command against servers that try to make it leak or lie: echoes of the client
// secret in every shape, control characters (CR, ANSI escapes, C1) in the text it prints, and
// OAuth error codes that are names of Object.prototype members. The command runs as users run
// it (`node dist/cli/main.js`, a child process) against a node:http fault server on 127.0.0.1.
// Test names read "case → outcome": e2e/fault-table.mjs turns them into the README table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ensureBuilt, root, run } from './support/child.ts';
import { newToken, sendJson, startFaultServer, verifyProofOf, type FaultServer } from './support/fault-server.ts';

const CLI = join(root, 'dist/cli/main.js');
const SECRET = 'Sx9-k3y_value';
const cli = (args: string[]) => run(process.execPath, [CLI, ...args]);

let server: FaultServer;
beforeAll(async () => {
  await ensureBuilt();
  server = await startFaultServer();
}, 120_000);
afterAll(() => server?.close());

const call = (...extra: string[]) => cli(['--token-endpoint', server.url('/token'), '--client-id', 'app', '--client-secret', SECRET, ...extra, server.url('/api')]);
/** Each control character a hostile server may send, none of which may reach the terminal. */
const RAW_CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;
/** A fake success line painted over the real one: carriage return, erase line, green. */
const PAINT = '\r\x1b[2K\x1b[32mdpop-fetch: OK, HTTP 200\x1b[0m\x9b2K';

describe('the client secret echoed by a server', () => {
  // The secret as servers echo it: followed or preceded by ., -, ~, %, _, inside a word,
  // URL- and form-encoded, JSON-escaped.
  const echoes = [`${SECRET}.`, `${SECRET}-x`, `${SECRET}~`, `${SECRET}%20`, `x${SECRET}`, `_${SECRET}_`, `secret=${SECRET}&`, encodeURIComponent(`${SECRET}!`)];

  it('token endpoint echoes the secret in its error body and a header, next to . - ~ % _ → -v log and error line never show it', async () => {
    server.on('/token', (ctx) => sendJson(ctx.res, 401, { error: 'invalid_client', error_description: `unknown secret ${echoes.join(' ')}` }, { 'x-echo': echoes.join(' ') }));
    const result = await call('-v');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('< X-Echo: [redacted]');
    for (const text of [result.stderr, result.stdout]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(SECRET.replace('_', '%5F'));
    }
    // The form field's name is not the secret: still readable.
    expect(result.stderr).toContain('client_secret=[redacted]');
  });

  it('the API echoes the secret in a header, printed by -i → [redacted] on stdout too', async () => {
    server.on('/token', (ctx) => sendJson(ctx.res, 200, { access_token: newToken(), token_type: 'DPoP', expires_in: 60 }));
    server.on('/api', (ctx) => sendJson(ctx.res, 200, { ok: true }, { 'x-echo': `${SECRET}.` }));
    const result = await call('-i');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^X-Echo: \[redacted\]\.$/m);
    expect(result.stdout + result.stderr).not.toContain(SECRET);
  });
});

describe('control characters from a server', () => {
  it('token endpoint error_description with CR and ANSI escapes → the error line shows them escaped: one line, nothing painted', async () => {
    server.on('/token', (ctx) => sendJson(ctx.res, 400, { error: 'invalid_scope', error_description: `no${PAINT}` }));
    const result = await call();
    expect(result.code).toBe(1);
    expect(result.stderr).not.toMatch(RAW_CONTROLS);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('no\\x0d\\x1b[2K\\x1b[32mdpop-fetch: OK, HTTP 200\\x1b[0m\\x9b2K');
  });

  it('the same in the -v log: a body with CR and C1 controls, a header with a tab and C1 CSI → escaped there too; every log line is the log\'s own', async () => {
    // HTTP parsers refuse C0 controls in headers but pass a tab and bytes 0x80-0x9f (C1); a
    // body may hold anything (one with ESC is logged as binary data, not as text).
    server.on('/token', (ctx) => sendJson(ctx.res, 400, `{"error":"invalid_scope"}\r< 200 OK\x9b2K\x85`, { 'x-note': 'a\tb\x9b31mred\x85' }));
    const result = await call('-v');
    expect(result.code).toBe(1);
    expect(result.stderr).not.toMatch(RAW_CONTROLS);
    expect(result.stderr).toContain('< X-Note: a\\x09b\\x9b31mred\\x85');
    expect(result.stderr).toContain('< {"error":"invalid_scope"}\\x0d< 200 OK\\x9b2K\\x85');
    for (const line of result.stderr.trimEnd().split('\n')) expect(line).toMatch(/^(#\d|[<>*]( |$)|dpop-fetch: |\w*Error: |    at )/);
  });

  it('a token scope with a newline and a fake log line → quoted on one line of the -v log', async () => {
    server.on('/token', (ctx) => sendJson(ctx.res, 200, { access_token: newToken(), token_type: 'DPoP', expires_in: 60, scope: 'api\n* the server is trusted\x1b[0m' }));
    server.on('/api', async (ctx) => (await verifyProofOf(ctx.request), sendJson(ctx.res, 200, { ok: true })));
    const result = await call('-v');
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/^\* the server is trusted/m);
    expect(result.stderr).toContain('scope "api\\n* the server is trusted\\u001b[0m")');
  });

  it('an API 401 whose WWW-Authenticate error_description carries a tab and C1 controls → the failure line and -i show them escaped', async () => {
    server.on('/token', (ctx) => sendJson(ctx.res, 200, { access_token: newToken(), token_type: 'DPoP', expires_in: 60 }));
    server.on('/api', (ctx) => sendJson(ctx.res, 401, {}, { 'www-authenticate': 'DPoP error="invalid_token", error_description="revoked\x9b2K\x85\tdpop-fetch: OK"' }));
    const result = await call('-i');
    expect(result.code).toBe(1);
    expect(result.stderr + result.stdout).not.toMatch(RAW_CONTROLS);
    expect(result.stderr).toContain('invalid_token: revoked\\x9b2K\\x85\\x09dpop-fetch: OK');
    expect(result.stdout).toContain('\nWWW-Authenticate: DPoP error="invalid_token", error_description="revoked\\x9b2K\\x85\\x09dpop-fetch: OK"\n');
  });
});

describe('server strings that name Object.prototype members', () => {
  it.for(['constructor', '__proto__', 'toString'])('token endpoint answers {"error":"%s"} → the error line names it, with no advice from Object.prototype', async (error) => {
    server.on('/token', (ctx) => sendJson(ctx.res, 400, { error }));
    const result = await call();
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^dpop-fetch: the token endpoint refused the request: ${error}, HTTP 400\\n$`));
    expect(result.stderr).not.toMatch(/native code|function/);
  });

  it('a flag named after an Object.prototype member (--constructor, --toString) → an unknown flag, exit 2', async () => {
    for (const flag of ['--constructor', '--toString', '--__proto__']) {
      const result = await cli([flag, 'https://api.example/']);
      expect(result.code, flag).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`^dpop-fetch: unknown (option|flag) ${flag}`));
    }
  });
});
