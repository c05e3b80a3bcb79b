/**
 * What the CLI says when something goes wrong: one line, `<what went wrong>; <what to do>`,
 * and an exit status: 2 when the command line is wrong, 1 when something it refers to (a
 * file, a key, a server) failed. The library's typed errors are translated here, with its
 * option names (`options.clientId`) replaced by the flag or variable the user gave.
 */
import { DPoPError, OAuthError, TokenResponseError, ErrorCode } from '../index.ts';
import type { Setting } from './args.ts';
import { Failure, isDenoPermission, UsageError } from './errors.ts';
import { networkReason } from './log.ts';

/** Library option name → CLI flag name. */
const FLAGS: Record<string, string> = {
  tokenEndpoint: 'token-endpoint',
  clientId: 'client-id',
  clientSecret: 'client-secret',
  scope: 'scope',
  resource: 'resource',
  authMethod: 'auth-method',
  clientAssertionKey: 'client-key',
  clientAssertionKid: 'client-key-id',
  clientAssertionAlg: 'client-key-alg',
  alg: 'client-key-alg',
};

const OAUTH_ADVICE: Record<string, string> = {
  invalid_client: 'check --client-id, --client-secret (or DPOP_CLIENT_SECRET) and --auth-method',
  invalid_scope: 'ask only for scopes the client is registered for (--scope)',
  invalid_target: 'check --resource: the server does not know that resource',
  unauthorized_client: 'the client may not use the client_credentials grant; check its registration at the server',
  invalid_dpop_proof: 'the server refused the DPoP proof; check the system clock and the key',
};

/** What to tell the user: one line and an exit status. */
export interface Explained {
  message: string;
  exitCode: 1 | 2;
}

/** Where the failure happened, to name things the user can act on. */
export interface ErrorContext {
  /** The settings as given, so a message names the flag or the environment variable. */
  settings?: Map<string, Setting[]> | undefined;
  /** The API URL being called. */
  url?: string | undefined;
  /** --max-time, as given. */
  maxTime?: string | undefined;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** A library sentence ("The token endpoint …. Check …") as `the token endpoint …; check …`. */
function sentence(text: string): string {
  const clean = oneLine(text).replace(/\.$/, '');
  return clean.charAt(0).toLowerCase() + clean.slice(1);
}

/** Translates any error into one line for stderr. */
export function explain(err: unknown, context: ErrorContext = {}): Explained {
  if (err instanceof UsageError || err instanceof Failure) return { message: oneLine(err.message), exitCode: err.exitCode };

  const code = (err as { code?: unknown } | undefined)?.code;
  if (err instanceof TypeError && (code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_INVALID_ARG_VALUE')) {
    // The library checked an option the CLI passed through from a flag: name the flag.
    const match = /^"options\.([A-Za-z]+)(?:\[\d+\])?"\s*(.*)$/.exec(err.message);
    const flagName = match && Object.hasOwn(FLAGS, match[1]!) ? FLAGS[match[1]!] : undefined;
    if (match && flagName) {
      const shown = context.settings?.get(flagName)?.[0]?.from ?? `--${flagName}`;
      // The CLI has no allowInsecureHttp switch: do not point to one.
      const problem = oneLine(match[2]!).replace(/,? or with allowInsecureHttp: true/, '');
      return { message: `${shown} ${problem}; see dpop-fetch --help`, exitCode: 2 };
    }
  }

  if (err instanceof OAuthError) {
    const description = err.error_description ? ` (${oneLine(err.error_description)})` : '';
    // `error` is server text: only the table's own entries count (`constructor` is not advice).
    // A client that signs assertions has no secret to check, but a key the server must know.
    const advice = err.error === 'invalid_client' && context.settings?.has('client-key')
      ? 'the server must have the public key of --client-key registered (with --client-key-id) for its algorithm (--client-key-alg)'
      : Object.hasOwn(OAUTH_ADVICE, err.error) ? OAUTH_ADVICE[err.error] : undefined;
    if (advice) return { message: `the token endpoint refused the request: ${err.error}${description}, HTTP ${err.status}; ${advice}`, exitCode: 1 };
    return { message: sentence(err.message), exitCode: 1 };
  }
  if (err instanceof TokenResponseError && err.code === ErrorCode.TOKEN_NETWORK) {
    const endpoint = context.settings?.get('token-endpoint')?.[0];
    return {
      message: `could not reach the token endpoint ${endpoint?.value} (${networkReason(err.cause)}); check ${endpoint?.from ?? '--token-endpoint'} and the network`,
      exitCode: 1,
    };
  }
  if (err instanceof DPoPError) return { message: sentence(err.message), exitCode: 1 };

  const name = (err as { name?: unknown } | undefined)?.name;
  if (isDenoPermission(err)) {
    // Deno without a permission flag: "Requires env access to "X", run again with the --allow-env flag".
    const what = oneLine(String((err as Error).message)).split(/, run again/)[0];
    return { message: `Deno refused: ${what}; run deno run --allow-net --allow-read --allow-env (and --allow-write for keygen --out)`, exitCode: 2 };
  }
  if (name === 'TimeoutError') {
    return { message: `no complete answer within ${context.maxTime} s; raise --max-time, or check that the server is up`, exitCode: 1 };
  }
  if (err instanceof TypeError && context.url) {
    // fetch() rejects with a TypeError ("fetch failed") when there is no HTTP answer at all.
    return { message: `could not reach ${context.url} (${networkReason(err)}); check the URL and the network`, exitCode: 1 };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { message: `unexpected error: ${oneLine(message)}; run again with -v for details, and report it if it persists`, exitCode: 1 };
}
