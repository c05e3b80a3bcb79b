/**
 * Session logs: each HTTP exchange written the way an HTTP library's debug log shows it
 * (request line, headers, body; status, headers, body), with every credential redacted and
 * bodies shortened. `dpop-fetch -v` logs from the client's side through {@link loggingFetch};
 * the demo (e2e/demo.mjs) logs from the servers' side and uses {@link formatExchange} too.
 */
import { Buffer } from 'node:buffer';
import { STATUS_CODES } from 'node:http';
import type { DPoPEvent } from '../index.ts';

/** One request and its response, as either side saw it. Header names may be in any case. */
export interface Exchange {
  method: string;
  url: string;
  requestHeaders: Record<string, string | string[]>;
  requestBody: string;
  /** Undefined when no response came (the error is logged instead). */
  status?: number | undefined;
  responseHeaders?: Record<string, string | string[]> | undefined;
  responseBody?: string | undefined;
}

/** A DPoP proof's decoded header and claims; the signature is never kept. */
export interface DecodedProof {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

export interface FormatOptions {
  /** Values to blank out wherever they appear (client secret, …). */
  secrets?: readonly string[] | undefined;
  /** The proof sent with this request, printed under its DPoP header. */
  proof?: DecodedProof | undefined;
  /** Bodies longer than this many characters are cut. Default 600. */
  maxBody?: number | undefined;
}

export const REDACTED = '[redacted]';
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'dpop']);
// Form fields and JSON members that hold credentials (RFC 6749 §2.3.1, §4.1.3, §5.1, §6; RFC 7523 §2.2; RFC 7636 §4.5).
const FORM_SECRETS = /(^|&)(client_secret|client_assertion|refresh_token|code|code_verifier|password|assertion)=[^&]*/g;
const JSON_SECRETS = /("(?:access_token|refresh_token|id_token|client_secret)"\s*:\s*)"(?:[^"\\]|\\.)*"/g;

/** `dpop-nonce` → `DPoP-Nonce`, `www-authenticate` → `WWW-Authenticate`. */
export function headerName(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((word) => (word === 'dpop' ? 'DPoP' : word === 'www' ? 'WWW' : word.charAt(0).toUpperCase() + word.slice(1)))
    .join('-');
}

function headerValue(name: string, value: string): string {
  const lower = name.toLowerCase();
  if (!CREDENTIAL_HEADERS.has(lower)) return value;
  // Keep the scheme of Authorization (DPoP, Bearer, Basic): it is what a reader checks first.
  const scheme = lower.endsWith('authorization') ? /^\S+(?=\s)/.exec(value)?.[0] : undefined;
  return scheme ? `${scheme} ${REDACTED}` : REDACTED;
}

/** A body with its credentials blanked and its length bounded. */
export function redactBody(text: string, max = 600): string {
  const clean = text.replace(FORM_SECRETS, `$1$2=${REDACTED}`).replace(JSON_SECRETS, `$1"${REDACTED}"`);
  return clean.length > max ? `${clean.slice(0, max)}…[+${clean.length - max} chars]` : clean;
}

/** Bytes as log text: UTF-8 if they are text, else a note of their size. */
export function bodyText(bytes: Uint8Array): string {
  if (bytes.length === 0) return '';
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (!/[\x00-\x08\x0e-\x1f\x7f]/.test(text)) return text;
  } catch {
    // not UTF-8: fall through
  }
  return `[${bytes.length} bytes of binary data]`;
}

/** Decodes the header and claims of a compact JWS without verifying it; drops the signature. */
export function decodeProof(jws: string): DecodedProof | undefined {
  const [header, claims] = jws.split('.');
  try {
    const json = (segment: string) => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
    return { header: json(header!), claims: json(claims!) };
  } catch {
    return undefined;
  }
}

function headerLines(prefix: string, headers: Record<string, string | string[]>, proof?: DecodedProof): string[] {
  const lines: string[] = [];
  for (const [name, values] of Object.entries(headers)) {
    for (const value of Array.isArray(values) ? values : [values]) lines.push(`${prefix} ${headerName(name)}: ${headerValue(name, value)}`);
    if (proof && name.toLowerCase() === 'dpop') {
      lines.push(`${prefix}   proof header ${JSON.stringify(proof.header)}`, `${prefix}   proof claims ${JSON.stringify(proof.claims)}`);
    }
  }
  return lines;
}

function bodyLines(prefix: string, body: string, max: number): string[] {
  if (!body) return [];
  return [prefix, ...redactBody(body, max).split(/\r?\n/).map((line) => `${prefix} ${line}`)];
}

// Protocol words a short secret may be part of (the demo's secret is "secret"): an occurrence
// of a secret that lies wholly inside one of them, or inside [redacted], shows nothing of it.
const PROTOCOL_WORDS = /client_secret(?:_post|_basic)?|clientSecret|client-secret|CLIENT_SECRET|\[redacted\]/g;

/**
 * Blanks each secret (raw, URL-encoded, form-encoded, JSON-escaped) wherever it occurs in
 * `text`, whatever surrounds it (issue 13: a secret followed by `.`, `-`, `~` or `%` in a
 * server's echo stayed visible). Only an occurrence wholly inside a protocol word stays: with
 * the secret "secret", the field name `client_secret` is still readable.
 */
export function scrub(text: string, secrets: readonly string[] = []): string {
  const words = [...text.matchAll(PROTOCOL_WORDS)].map((m) => [m.index, m.index + m[0].length] as const);
  const spans: [number, number][] = [];
  for (const secret of secrets) {
    if (!secret) continue;
    const forms = new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2), JSON.stringify(secret).slice(1, -1)]);
    for (const form of forms) {
      // Every occurrence, overlapping ones included.
      for (let at = text.indexOf(form); at !== -1; at = text.indexOf(form, at + 1)) {
        const end = at + form.length;
        if (!words.some(([from, to]) => at >= from && end <= to)) spans.push([at, end]);
      }
    }
  }
  // Each run of hidden characters (overlapping or touching spans) becomes one [redacted].
  spans.sort((a, b) => a[0] - b[0]);
  let clean = '';
  let kept = 0;
  for (let i = 0; i < spans.length; ) {
    const from = spans[i]![0];
    let to = spans[i]![1];
    for (i++; i < spans.length && spans[i]![0] <= to; i++) to = Math.max(to, spans[i]![1]);
    clean += `${text.slice(kept, from)}${REDACTED}`;
    kept = to;
  }
  return clean + text.slice(kept);
}

// C0 controls but the newline, DEL, C1 controls, and the Unicode line separators and bidi
// overrides that can make a terminal show other text than was sent (issue 13).
const CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text made safe to print: every control character but the newline shown as `\xHH` (or
 * `\uHHHH`), so a server's CR or ANSI escape cannot move the cursor, erase a line or paint one.
 */
export function printable(text: string): string {
  return text.replace(CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    return code < 256 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

/**
 * One exchange as numbered log lines: `#n METHOD URL`, `>` request lines, `<` response lines.
 *
 * @example
 * process.stderr.write(formatExchange(1, exchange, { secrets: [clientSecret] }));
 */
export function formatExchange(n: number, exchange: Exchange, options: FormatOptions = {}): string {
  const max = options.maxBody ?? 600;
  const lines = [`#${n} ${exchange.method} ${exchange.url}`, ...headerLines('>', exchange.requestHeaders, options.proof)];
  lines.push(...bodyLines('>', exchange.requestBody, max));
  if (exchange.status !== undefined) {
    lines.push(`< ${exchange.status} ${STATUS_CODES[exchange.status] ?? ''}`.trimEnd(), ...headerLines('<', exchange.responseHeaders ?? {}));
    lines.push(...bodyLines('<', exchange.responseBody ?? '', max));
  }
  return `${scrub(lines.join('\n'), options.secrets)}\n`;
}

/** What the client did, in one sentence, for a session log; undefined for proofs (shown with their exchange). */
export function describeEvent(event: DPoPEvent): string | undefined {
  switch (event.type) {
    case 'token': {
      // The scope is server text: quoted by JSON, so a newline in it cannot start a line of its own.
      const parts = [event.expiresIn === undefined ? undefined : `valid ${event.expiresIn} s`, event.scope ? `scope ${JSON.stringify(event.scope)}` : undefined].filter(Boolean);
      return `got ${event.renewal ? 'a new' : 'a'} ${event.tokenType} token${parts.length ? ` (${parts.join(', ')})` : ''}`;
    }
    case 'nonce-retry':
      return `the ${event.server === 'token' ? 'token endpoint' : 'resource server'} demanded a DPoP nonce (use_dpop_nonce): sending once more with it`;
    case 'token-rejected':
      return 'the resource server refused the cached token (invalid_token): getting a new one and sending once more';
    case 'clock-skew':
      return `the server's clock is ${Math.round(event.offset / 1000)} s from ours: proofs now use the server's time`;
    case 'proof':
      return undefined;
  }
}

function plainHeaders(headers: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  headers.forEach((value, name) => {
    out[name] = name === 'set-cookie' ? headers.getSetCookie() : value;
  });
  return out;
}

/** Options of {@link loggingFetch}. */
export interface LoggingOptions {
  secrets: readonly string[];
  /** Print each request's DPoP proof, decoded (header and claims, never the signature). */
  decode: boolean;
}

/**
 * Wraps `send` so that every exchange is written to `write` once its response (or failure)
 * is known. Bodies are read from clones, so the caller still gets them whole.
 *
 * @example
 * const api = createDPoPFetch({ keyPair, tokens, fetch: loggingFetch(fetch, (t) => process.stderr.write(t), { secrets, decode: false }) });
 */
export function loggingFetch(send: typeof fetch, write: (text: string) => void, options: LoggingOptions): typeof fetch {
  let count = 0;
  return async (input, init) => {
    const request = new Request(input, init);
    const n = ++count;
    const exchange: Exchange = {
      method: request.method,
      url: request.url,
      requestHeaders: plainHeaders(request.headers),
      requestBody: request.body ? bodyText(new Uint8Array(await request.clone().arrayBuffer())) : '',
    };
    const dpop = request.headers.get('dpop');
    const format = { secrets: options.secrets, proof: options.decode && dpop ? decodeProof(dpop) : undefined };
    let response: Response;
    try {
      response = await send(request);
    } catch (err) {
      write(`${formatExchange(n, exchange, format)}< (no response: ${networkReason(err)})\n`);
      throw err;
    }
    exchange.status = response.status;
    exchange.responseHeaders = plainHeaders(response.headers);
    exchange.responseBody = response.body ? bodyText(new Uint8Array(await response.clone().arrayBuffer())) : '';
    write(formatExchange(n, exchange, format));
    return response;
  };
}

/** The most specific reason a fetch failed: a system error code (ECONNREFUSED), else the innermost message. */
export function networkReason(err: unknown): string {
  let reason = err instanceof Error ? err.message : String(err);
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    if (e.message) reason = e.message;
  }
  return reason;
}
