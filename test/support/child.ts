// Running the built package as a user would: child processes, and a fresh dist/ when the tests
// run without `npm test` having built it. Shared by the CLI and demo tests.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string> | undefined;
  input?: string | Uint8Array;
  cwd?: string;
}

/** Runs a command with no DPOP_* variables from the outer environment, unless given. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<Result> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DPOP_')));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? root, env: { ...env, NO_COLOR: '1', RUST_BACKTRACE: '0', ...options.env } });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }));
    child.stdin.end(options.input);
  });
}

/** `vitest run` alone may find dist/ older than src/: build it then, one build at a time. */
export async function ensureBuilt(): Promise<void> {
  const built = join(root, 'dist/cli/main.js');
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  const stale = () => !existsSync(built) || Math.max(newest(join(root, 'src')), statSync(join(root, 'tsconfig.json')).mtimeMs) > statSync(built).mtimeMs;
  if (!stale()) return;
  const lock = join(tmpdir(), `dpop-fetch-build-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`);
  for (let waited = 0; waited < 120_000; waited += 200) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (stale()) {
      const build = await run('npm', ['run', 'build']);
      if (build.code !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
