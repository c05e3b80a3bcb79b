// A Deno process serving denoKvStore on a KV file (test/store/deno-kv.child.ts), seen from Node
// as a DPoPStore. Several on one file are several instances of a fleet on one Deno KV.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DPoPStore } from '../../src/store/dpop-store.ts';
import { root } from './child.ts';
import { decode, encode, remoteStore } from './remote-store.mjs';

export interface DenoKvInstance {
  store: Required<Pick<DPoPStore, 'get' | 'set' | 'delete' | 'lock'>>;
  pid: number;
  /** Ends the process by its PID: SIGKILL stands for an instance that dies. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const deno = join(root, 'node_modules/.bin/deno'); // the binary itself, so that its PID is Deno's

export async function startDenoKvInstance(kvFile: string, dir: string): Promise<DenoKvInstance> {
  const child: ChildProcess = spawn(
    deno,
    ['run', '--quiet', '--check', '--unstable-kv', `--allow-read=${root},${dir}`, `--allow-write=${dir}`, 'test/store/deno-kv.child.ts', kvFile],
    { cwd: root, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } },
  );
  const killOnExit = () => child.exitCode === null && child.pid && process.kill(child.pid, 'SIGKILL');
  process.once('exit', killOnExit);
  const waiting = new Map<number, { resolve: (answer: never) => void; reject: (err: Error) => void }>();
  let exited: Error | undefined;
  child.once('exit', (code, signal) => {
    exited = new Error(`the Deno instance exited (${signal ?? code})`);
    for (const { reject } of waiting.values()) reject(exited);
    waiting.clear();
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const { id, ...answer } = decode(line);
    waiting.get(id)?.resolve(answer as never);
    waiting.delete(id);
  });
  let next = 0;
  const store = remoteStore(
    (call) =>
      new Promise((resolve, reject) => {
        if (exited) return reject(exited);
        const id = ++next;
        waiting.set(id, { resolve, reject });
        child.stdin!.write(`${encode({ id, call })}\n`);
      }),
  );
  // Ready when it answers (type-checking and opening the KV file come first).
  await store.get('ready?');
  return {
    store,
    pid: child.pid!,
    async kill(signal = 'SIGTERM') {
      process.off('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid!, signal);
      await gone;
    },
  };
}
