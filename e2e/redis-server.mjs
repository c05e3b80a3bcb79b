// @ts-check
/**
 * A real redis-server for a test file or a benchmark: Debian's binary (installed by .ci/run), on
 * 127.0.0.1 with a free port (or a given one, as after a restart), no persistence, stopped by its
 * PID, and killed with this process should it end first. Node-only, no build step (types in
 * redis-server.d.mts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/** @param {import('node:child_process').ChildProcess} child @returns {Promise<boolean>} */
function started(child) {
  return new Promise((resolve) => {
    let output = '';
    const timer = setTimeout(() => done(false), 10_000);
    const onData = (/** @type {Buffer} */ chunk) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) done(true);
    };
    const onExit = (/** @type {unknown} */ err) => {
      if (err instanceof Error) output += err.message;
      done(false);
    };
    function done(/** @type {boolean} */ ok) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onExit);
      if (!ok) process.stderr.write(`redis-server did not start:\n${output}\n`);
      resolve(ok);
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onExit); // not installed
  });
}

/** @param {import('node:child_process').ChildProcess} child @returns {Promise<void>} */
function stopped(child) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const pid = child.pid;
  return new Promise((resolve) => {
    const force = setTimeout(() => process.kill(pid, 'SIGKILL'), 3000);
    child.once('exit', () => (clearTimeout(force), resolve()));
    process.kill(pid, 'SIGTERM');
  });
}

/**
 * Starts redis-server on a free 127.0.0.1 port (a few tries, should another process take the
 * port first), or on `port` (one try): a server stopped and started again on its port, as
 * clients see a Redis restart.
 * @param {{ port?: number }} [options]
 * @returns {Promise<import('./redis-server.d.mts').RedisServer>}
 */
export async function startRedis({ port: given } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dpop-fetch-redis-'));
  for (let attempt = 0; attempt < (given ? 1 : 5); attempt++) {
    const port = given ?? (await freePort());
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const killOnExit = () => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL');
    process.once('exit', killOnExit);
    if (!(await started(child))) {
      await stopped(child);
      process.off('exit', killOnExit);
      continue;
    }
    child.stdout?.resume(); // keep draining its log
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      pid: /** @type {number} */ (child.pid),
      async stop() {
        await stopped(child);
        process.off('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error("redis-server could not be started on 127.0.0.1 (is it installed? .ci/run installs Debian's redis-server)");
}
