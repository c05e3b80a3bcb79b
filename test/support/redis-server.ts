// A real redis-server for one test file: Debian's binary (installed by .ci/run), on 127.0.0.1
// with a free port, no persistence, stopped by its PID when the file ends, and killed with this
// process should the file crash first.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function started(child: ChildProcess): Promise<boolean> {
  return new Promise((resolve) => {
    let output = '';
    const timer = setTimeout(() => done(false), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) done(true);
    };
    const onExit = (err?: unknown) => {
      if (err instanceof Error) output += err.message;
      done(false);
    };
    function done(ok: boolean) {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onExit);
      if (!ok) process.stderr.write(`redis-server did not start:\n${output}\n`);
      resolve(ok);
    }
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onExit); // not installed
  });
}

function stopped(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 3000);
    child.once('exit', () => (clearTimeout(force), resolve()));
    process.kill(child.pid!, 'SIGTERM');
  });
}

/**
 * Starts redis-server on a free 127.0.0.1 port (a few tries, should another process take the
 * port first), or on `port` (one try): a server stopped and started again on its port, as
 * clients see a Redis restart.
 */
export async function startRedis({ port: given }: { port?: number } = {}): Promise<RedisServer> {
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
    child.stdout!.resume(); // keep draining its log
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      pid: child.pid!,
      async stop() {
        await stopped(child);
        process.off('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('redis-server could not be started on 127.0.0.1 (is it installed? .ci/run installs Debian\'s redis-server)');
}
