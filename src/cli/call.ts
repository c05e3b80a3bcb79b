/**
 * `dpop-fetch <url>`: one request to a DPoP-protected API, through the library's public API
 * only: a key (loaded or ephemeral), clientCredentials(...) as the token source, and
 * createDPoPFetch(...) to send. The body goes to stdout as it arrives.
 */
import { once } from 'node:events';
import process from 'node:process';
import { calculateThumbprint, clientCredentials, createDPoPFetch, generateKeyPair, parseWwwAuthenticate, type AuthMethod, type TokenSource } from '../index.ts';
import { flag, one, type Invocation } from './args.ts';
import { Failure, UsageError } from './errors.ts';
import { concat, loadKey, passwordFor, readSetting, readStdin } from './files.ts';
import { describeEvent, headerName, loggingFetch, printable, scrub } from './log.ts';

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Where the CLI writes: stdout for the answer, a line sink for the session log. */
export interface Output {
  stdout: NodeJS.WritableStream;
  log: (text: string) => void;
}

function parseUrl(text: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`"${text}" is not an absolute http: or https: URL; give one like https://api.example/things`);
  }
  return url;
}

function requestHeaders(invocation: Invocation): Headers {
  const headers = new Headers();
  for (const { value, from } of invocation.settings.get('header') ?? []) {
    const colon = value.indexOf(':');
    try {
      if (colon <= 0) throw new TypeError('no name');
      headers.append(value.slice(0, colon).trim(), value.slice(colon + 1).trim());
    } catch {
      throw new UsageError(`${from} "${value}" is not a header; write it as 'Name: value'`);
    }
  }
  return headers;
}

async function requestBody(invocation: Invocation): Promise<Uint8Array | undefined> {
  const parts = invocation.settings.get('data');
  if (!parts) return undefined;
  const bytes: Uint8Array[] = [];
  for (const [i, { value, from }] of parts.entries()) {
    if (i > 0) bytes.push(new TextEncoder().encode('&'));
    if (value === '@-') bytes.push(await readStdin());
    else if (value.startsWith('@')) bytes.push(await readSetting(value.slice(1), `${from} @file`, 'the data file'));
    else bytes.push(new TextEncoder().encode(value));
  }
  return concat(bytes);
}

function maxTime(invocation: Invocation): number | undefined {
  const setting = one(invocation, 'max-time');
  if (!setting) return undefined;
  const seconds = Number(setting.value);
  if (!(seconds > 0 && seconds <= 86_400)) throw new UsageError(`${setting.from} "${setting.value}" is not a number of seconds; give one between 0 and 86400, e.g. 30`);
  return seconds;
}

/** The token source the settings describe, or undefined when no token endpoint is given. */
async function tokenSource(invocation: Invocation, headers: Headers): Promise<TokenSource | undefined> {
  const endpoint = one(invocation, 'token-endpoint');
  const clientSettings = ['client-id', 'client-secret', 'scope', 'resource', 'auth-method', 'client-key', 'client-key-id', 'client-key-alg'];
  if (!endpoint) {
    const stray = clientSettings.map((name) => one(invocation, name)).find(Boolean);
    if (stray) throw new UsageError(`${stray.from} needs --token-endpoint (or DPOP_TOKEN_ENDPOINT); give the authorization server's token endpoint`);
    return undefined;
  }
  const clientId = one(invocation, 'client-id');
  if (!clientId) throw new UsageError(`${endpoint.from} needs --client-id (or DPOP_CLIENT_ID); give the client's id`);
  if (headers.has('authorization')) throw new UsageError(`-H Authorization cannot be combined with ${endpoint.from}: the token comes from the token endpoint; drop one of them`);
  const clientKey = one(invocation, 'client-key');
  return clientCredentials({
    tokenEndpoint: endpoint.value,
    clientId: clientId.value,
    clientSecret: one(invocation, 'client-secret')?.value,
    scope: one(invocation, 'scope')?.value,
    resource: invocation.settings.get('resource')?.map((r) => r.value),
    authMethod: one(invocation, 'auth-method')?.value as AuthMethod | undefined, // clientCredentials checks it
    clientAssertionKey: clientKey && (await loadKey(clientKey, { client: true, password: await passwordFor(invocation, 'client-key'), alg: one(invocation, 'client-key-alg')?.value })),
    clientAssertionKid: one(invocation, 'client-key-id')?.value,
  });
}

/** Why the API said no, from its WWW-Authenticate challenge, and what to do. */
function refusal(response: Response, tokens: TokenSource | undefined): string {
  const header = response.headers.get('www-authenticate');
  const challenge = header ? parseWwwAuthenticate(header).find((c) => c.scheme === 'dpop' || c.scheme === 'bearer') : undefined;
  const error = challenge?.params.error;
  const description = challenge?.params.error_description?.slice(0, 200);
  const why = error ? ` (${error}${description ? `: ${description}` : ''})` : '';
  let advice = 'the response body is on stdout';
  if (error === 'invalid_token') advice = 'the API refused the token: check --scope and --resource, and that the API trusts this token endpoint';
  else if (error === 'invalid_dpop_proof') advice = 'the API refused the DPoP proof: check the system clock';
  else if (error === 'insufficient_scope') advice = 'ask for the scope the API needs with --scope';
  else if (response.status === 401 && !tokens) advice = 'the API wants a token: give --token-endpoint, --client-id and the client secret';
  return `${why}; ${advice}`;
}

async function write(stdout: NodeJS.WritableStream, chunk: Uint8Array | string): Promise<void> {
  if (!stdout.write(chunk)) await once(stdout, 'drain');
}

/**
 * Calls the API and writes the answer. Resolves when all of it is written.
 *
 * @throws UsageError for bad settings, Failure (or a library error) when the call fails or the API answers 4xx/5xx.
 */
export async function call(invocation: Invocation, out: Output, secrets: string[]): Promise<void> {
  const url = parseUrl(invocation.url!);
  const verbose = flag(invocation, 'verbose') || flag(invocation, 'decode');
  const headers = requestHeaders(invocation);
  const body = await requestBody(invocation);
  if (body && !headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded');
  const methodSetting = one(invocation, 'request');
  if (methodSetting && !METHOD.test(methodSetting.value)) throw new UsageError(`${methodSetting.from} "${methodSetting.value}" is not an HTTP method; give one like GET or POST`);
  const method = methodSetting?.value ?? (body ? 'POST' : 'GET');
  if (body && (method.toUpperCase() === 'GET' || method.toUpperCase() === 'HEAD')) throw new UsageError(`a ${method.toUpperCase()} request cannot have a body (-d); add -X POST or another method`);
  const seconds = maxTime(invocation);
  const tokens = await tokenSource(invocation, headers);

  const keySetting = one(invocation, 'key');
  const keyPair = keySetting ? await loadKey(keySetting, { password: await passwordFor(invocation, 'key') }) : await generateKeyPair();
  if (verbose) {
    const thumbprint = await calculateThumbprint(keyPair);
    out.log(
      keySetting
        ? `* DPoP key from ${keySetting.from} "${keySetting.value}", thumbprint ${thumbprint}\n`
        : `* no --key given: using an ephemeral P-256 key for this run only, thumbprint ${thumbprint}; make a lasting one with dpop-fetch keygen\n`,
    );
    if (!tokens) out.log('* no --token-endpoint: sending proofs only (with the token from -H Authorization, if given)\n');
  }

  const api = createDPoPFetch({
    keyPair,
    tokens,
    requireDPoP: true,
    fetch: verbose ? loggingFetch(globalThis.fetch, out.log, { secrets, decode: flag(invocation, 'decode') }) : undefined,
    onEvent: verbose
      ? (event) => {
          const text = describeEvent(event);
          if (text) out.log(`* ${text}\n`);
        }
      : undefined,
  });
  const response = await api(url, {
    method,
    headers,
    body: (body ?? null) as BodyInit | null,
    // As curl: a redirect is shown, not followed (a token and a proof are for one URL).
    redirect: 'manual',
    signal: seconds === undefined ? null : AbortSignal.timeout(seconds * 1000),
  });

  if (flag(invocation, 'include')) {
    let head = `HTTP ${response.status} ${response.statusText}`.trimEnd() + '\n';
    response.headers.forEach((value, name) => (head += `${headerName(name)}: ${value}\n`));
    // The status line and headers are the server's text: escaped, and scrubbed of the secret.
    // The body is data, written as it came.
    await write(out.stdout, `${printable(scrub(head, secrets))}\n`);
  }
  if (response.body) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) await write(out.stdout, chunk);
  }
  if (response.status >= 400) {
    throw new Failure(`${method} ${url.href} answered HTTP ${response.status} ${response.statusText}`.trimEnd() + refusal(response, tokens));
  }
}
