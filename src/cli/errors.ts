/**
 * The CLI's own failures, each with its exit status: 2 when the command line is wrong, 1 when
 * something it refers to (a file, a key, a server) failed. explain.ts turns them, and the
 * library's errors, into the one line the user sees.
 */

/** A mistake on the command line: exit status 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/** Something the command refers to failed (a file, a key, a server, the API): exit status 1. */
export class Failure extends Error {
  readonly exitCode = 1;
}

/** Deno without a permission flag (`--allow-read`, …) refuses with one of these. */
export function isDenoPermission(err: unknown): boolean {
  const name = (err as { name?: unknown } | undefined)?.name;
  return name === 'NotCapable' || name === 'PermissionDenied';
}
