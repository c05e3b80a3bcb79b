/**
 * The command line: subcommand, curl-like flags (`-X`, `-H`, `-d`, `-i`, `-v`, clusters such
 * as `-iv`, `--flag=value`), and environment variables for the settings a user would rather
 * not type (or show in `ps`), such as DPOP_CLIENT_SECRET. Flags win over the environment.
 */
import { UsageError } from './errors.ts';

export type Command = 'call' | 'keygen' | 'thumbprint' | 'help' | 'version';

interface Spec {
  short?: string;
  /** Takes a value (else it is a switch). */
  value?: boolean;
  /** May be given several times. */
  repeat?: boolean;
  env?: string;
  /** Only from the environment: a secret that `ps` would show if it were a flag value. */
  envOnly?: boolean;
  /** The commands it belongs to. */
  commands: readonly Command[];
}

const CALL: readonly Command[] = ['call'];
const SPECS: Record<string, Spec> = {
  'token-endpoint': { value: true, env: 'DPOP_TOKEN_ENDPOINT', commands: CALL },
  'client-id': { value: true, env: 'DPOP_CLIENT_ID', commands: CALL },
  'client-secret': { value: true, env: 'DPOP_CLIENT_SECRET', commands: CALL },
  scope: { value: true, env: 'DPOP_SCOPE', commands: CALL },
  resource: { value: true, repeat: true, env: 'DPOP_RESOURCE', commands: CALL },
  'auth-method': { value: true, env: 'DPOP_AUTH_METHOD', commands: CALL },
  'client-key': { value: true, env: 'DPOP_CLIENT_KEY', commands: CALL },
  'client-key-id': { value: true, env: 'DPOP_CLIENT_KEY_ID', commands: CALL },
  'client-key-alg': { value: true, env: 'DPOP_CLIENT_KEY_ALG', commands: CALL },
  'client-key-password': { value: true, env: 'DPOP_CLIENT_KEY_PASSWORD', envOnly: true, commands: CALL },
  'client-key-password-file': { value: true, commands: CALL },
  key: { value: true, env: 'DPOP_KEY', commands: ['call', 'thumbprint'] },
  'key-password': { value: true, env: 'DPOP_KEY_PASSWORD', envOnly: true, commands: ['call', 'thumbprint'] },
  'key-password-file': { value: true, commands: ['call', 'thumbprint'] },
  out: { value: true, commands: ['keygen'] },
  request: { short: 'X', value: true, commands: CALL },
  header: { short: 'H', value: true, repeat: true, commands: CALL },
  data: { short: 'd', value: true, repeat: true, commands: CALL },
  include: { short: 'i', commands: CALL },
  'max-time': { short: 'm', value: true, commands: CALL },
  decode: { commands: CALL },
  verbose: { short: 'v', commands: ['call', 'keygen', 'thumbprint'] },
  help: { short: 'h', commands: ['call', 'keygen', 'thumbprint', 'help'] },
  version: { short: 'V', commands: ['call', 'help'] },
};
const BY_SHORT = new Map(Object.entries(SPECS).flatMap(([name, spec]) => (spec.short ? [[spec.short, name] as const] : [])));

/** A value and where it came from, so that a message can name the flag or the variable. */
export interface Setting {
  value: string;
  /** `--token-endpoint` or `DPOP_TOKEN_ENDPOINT`. */
  from: string;
}

/** What the command line asked for. */
export interface Invocation {
  command: Command;
  /** The URL to call (command `call`). */
  url?: string | undefined;
  /** Every setting given, by long flag name, in the order given. */
  settings: Map<string, Setting[]>;
}

/** The single value of a setting, or undefined. */
export function one(invocation: Invocation, name: string): Setting | undefined {
  return invocation.settings.get(name)?.[0];
}

/** Whether a switch (`-i`, `-v`, …) was given. */
export function flag(invocation: Invocation, name: string): boolean {
  return invocation.settings.has(name);
}

function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

function unknown(option: string): UsageError {
  const name = option.replace(/^-+/, '');
  const near = Object.keys(SPECS).find((known) => distance(name, known) <= 2 || (name.length > 2 && known.startsWith(name)));
  return new UsageError(`unknown option ${option}; ${near ? `did you mean --${near}? ` : ''}see dpop-fetch --help`);
}

/**
 * Parses `argv` (without `node` and the script) and fills unset settings from `env`.
 *
 * @throws UsageError for an unknown option, a missing value, a stray argument or an option
 *   that does not belong to the command.
 */
export function parseArgs(argv: readonly string[], env: Record<string, string | undefined>): Invocation {
  const settings = new Map<string, Setting[]>();
  const positionals: string[] = [];
  const given: string[] = [];
  const add = (name: string, shown: string, value: string | undefined) => {
    const spec = SPECS[name]!;
    if (spec.envOnly) throw new UsageError(`${shown} would show the password to anyone who runs ps; set ${spec.env} or give ${shown}-file <file>`);
    const list = settings.get(name) ?? [];
    if (list.length && !spec.repeat) throw new UsageError(`${shown} was given twice; give it once`);
    list.push({ value: value ?? '', from: shown });
    settings.set(name, list);
    given.push(name);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = Object.hasOwn(SPECS, name) ? SPECS[name] : undefined;
      if (!spec) throw unknown(eq < 0 ? arg : arg.slice(0, eq));
      let value: string | undefined;
      if (spec.value) {
        value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
        if (value === undefined) throw new UsageError(`--${name} needs a value; see dpop-fetch --help`);
      } else if (eq >= 0) {
        throw new UsageError(`--${name} takes no value; write it alone`);
      }
      add(name, `--${name}`, value);
    } else if (arg.startsWith('-') && arg.length > 1) {
      // A cluster of short switches, the last of which may take a value: -iv, -XPOST, -iX POST.
      for (let j = 1; j < arg.length; j++) {
        const name = BY_SHORT.get(arg[j]!);
        if (!name) throw unknown(`-${arg[j]}`);
        if (SPECS[name]!.value) {
          const value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i];
          if (value === undefined) throw new UsageError(`-${arg[j]} needs a value; see dpop-fetch --help`);
          add(name, `-${arg[j]}`, value);
          break;
        }
        add(name, `-${arg[j]}`, undefined);
      }
    } else {
      positionals.push(arg);
    }
  }

  let command: Command = 'call';
  if (positionals[0] === 'keygen' || positionals[0] === 'thumbprint' || positionals[0] === 'help') command = positionals.shift() as Command;
  if (settings.has('help')) command = 'help';
  else if (settings.has('version') && command === 'call') command = 'version';
  if (command === 'help' || command === 'version') return { command, settings };

  for (const name of given) {
    if (!SPECS[name]!.commands.includes(command)) {
      const shown = settings.get(name)![0]!.from;
      throw new UsageError(`${shown} does not apply to ${command === 'call' ? 'an API call' : `dpop-fetch ${command}`}; see dpop-fetch --help`);
    }
  }
  for (const [name, spec] of Object.entries(SPECS)) {
    const value = spec.env && env[spec.env];
    if (settings.has(name) || !value || !spec.commands.includes(command)) continue;
    settings.set(name, spec.repeat ? value.split(/\s+/).filter(Boolean).map((v) => ({ value: v, from: spec.env! })) : [{ value, from: spec.env! }]);
  }

  if (command !== 'call') {
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}" for dpop-fetch ${command}; see dpop-fetch --help`);
    return { command, settings };
  }
  if (positionals.length === 0) throw new UsageError('no URL given; write dpop-fetch [options] <url>, or see dpop-fetch --help');
  if (positionals.length > 1) throw new UsageError(`one URL at a time, but got "${positionals[0]}" and "${positionals[1]}"; quote arguments that contain spaces`);
  return { command, url: positionals[0], settings };
}

export const HELP = `dpop-fetch: call an OAuth 2.0 DPoP-protected API (RFC 9449) from the command line.

Usage
  dpop-fetch [options] <url>             call the API; the response body goes to stdout
  dpop-fetch keygen [--out key.pem]      make a P-256 private key (PKCS#8 PEM, mode 0600)
                                         and print its thumbprint (the tokens' cnf.jkt)
  dpop-fetch thumbprint --key key.pem    print a key's RFC 7638 thumbprint

Token (client credentials grant)                                       or variable
  --token-endpoint <url>  the authorization server's token endpoint    DPOP_TOKEN_ENDPOINT
  --client-id <id>                                                     DPOP_CLIENT_ID
  --client-secret <secret> (prefer the variable: flags show in ps)     DPOP_CLIENT_SECRET
  --scope "<a b>"         scopes to ask for                            DPOP_SCOPE
  --resource <uri>        RFC 8707 resource indicator; repeatable      DPOP_RESOURCE
  --auth-method <m>       client_secret_post (default with a secret),  DPOP_AUTH_METHOD
                          client_secret_basic, private_key_jwt, none
  --client-key <file>     private_key_jwt: the client's key, RSA or    DPOP_CLIENT_KEY
                          P-256: PEM (PKCS#8, PKCS#1, SEC1), DER, JWK
  --client-key-id <kid>   private_key_jwt: its kid                     DPOP_CLIENT_KEY_ID
  --client-key-alg <alg>  RS256 (default for RSA), PS256, RS384, …,    DPOP_CLIENT_KEY_ALG
                          ES256 (the only one for P-256)
  --key <file>            the DPoP key: PEM (PKCS#8 or SEC1), DER or   DPOP_KEY
                          JWK; default: a new key for this run only
  Encrypted keys (BEGIN ENCRYPTED PRIVATE KEY): the password comes from DPOP_KEY_PASSWORD
  (DPOP_CLIENT_KEY_PASSWORD) or the first line of --key-password-file (--client-key-
  password-file), never from a flag value, which ps would show.
  Without --token-endpoint, a token given as -H 'Authorization: DPoP <token>' is sent
  with a matching proof.

Request (as in curl)
  -X, --request <method>  default GET, or POST with -d
  -H, --header 'Name: value'  repeatable
  -d, --data <data>       request body; @file sends a file's bytes, @- reads stdin;
                          repeated -d are joined with &; default Content-Type
                          application/x-www-form-urlencoded
  -i, --include           print the status line and response headers before the body
  -m, --max-time <s>      give up after this many seconds
  -v, --verbose           log every exchange to stderr (credentials redacted)
      --decode            as -v, and print each DPoP proof's header and claims
  -h, --help              this text
  -V, --version           the version

Exit status: 0 when the API answered 1xx-3xx; 1 when it answered 4xx/5xx or something
failed (unreadable key, token refused, server unreachable); 2 when the command line is wrong.

Examples
  dpop-fetch keygen --out key.pem
  DPOP_CLIENT_SECRET=secret dpop-fetch --key key.pem \\
    --token-endpoint https://demo.duendesoftware.com/connect/token \\
    --client-id m2m.dpop --scope api https://demo.duendesoftware.com/api/dpop/test
  dpop-fetch ... -X POST -H 'Content-Type: application/json' -d @thing.json https://api.example/things
`;
