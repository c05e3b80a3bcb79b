/**
 * A parser for `WWW-Authenticate` (RFC 9110 §11.6.1): several challenges in one header,
 * auth-params with token or quoted-string values (with `\` escapes and commas inside quotes),
 * or a token68. It never throws: a server's odd header must not crash the client, so it
 * returns the challenges it could read.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1
 */

/** One challenge: a lower-cased scheme and its parameters (names lower-cased). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

class Reader {
  position = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.position >= this.text.length;
  }
  peek(): string {
    return this.text[this.position] ?? '';
  }
  skipSpace(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.position++;
  }
  token(): string {
    const start = this.position;
    while (TCHAR.test(this.peek())) this.position++;
    return this.text.slice(start, this.position);
  }
  /** A quoted-string, the opening quote already seen; unescapes `\x` to `x`. */
  quoted(): string {
    let value = '';
    this.position++;
    while (!this.done) {
      const char = this.text[this.position++]!;
      if (char === '"') return value;
      value += char === '\\' && !this.done ? this.text[this.position++]! : char;
    }
    return value; // unterminated: keep what was there
  }
  /** Skips to just after the next top-level comma (for recovery from junk). */
  skipItem(): void {
    while (!this.done && this.peek() !== ',') {
      if (this.peek() === '"') this.quoted();
      else this.position++;
    }
  }
  /** True when the text at the cursor is `token BWS "="` but not a token68's padding. */
  atParam(): boolean {
    const saved = this.position;
    const name = this.token();
    this.skipSpace();
    const isParam = name !== '' && this.peek() === '=' && !this.endsToken68(saved);
    this.position = saved;
    return isParam;
  }
  private endsToken68(start: number): boolean {
    const match = TOKEN68.exec(this.text.slice(start));
    if (!match || !match[0].endsWith('=')) return false;
    const after = this.text.slice(start + match[0].length).trimStart();
    return after === '' || after.startsWith(',');
  }
}

/**
 * Parses a `WWW-Authenticate` header value into its challenges, in order.
 *
 * @param header the header value (several headers may be joined with `, ` first).
 * @example
 * parseWwwAuthenticate('Bearer realm="x", DPoP error="use_dpop_nonce", algs="ES256"')
 * // [{ scheme: 'bearer', params: { realm: 'x' } }, { scheme: 'dpop', params: { error: 'use_dpop_nonce', algs: 'ES256' } }]
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const reader = new Reader(header);
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  while (!reader.done) {
    reader.skipSpace();
    if (reader.peek() === ',') {
      reader.position++;
      continue;
    }
    if (current && reader.atParam()) {
      const name = reader.token().toLowerCase();
      reader.skipSpace();
      reader.position++; // '='
      reader.skipSpace();
      const value = reader.peek() === '"' ? reader.quoted() : reader.token();
      if (!(name in current.params)) current.params[name] = value;
      reader.skipSpace();
      if (!reader.done && reader.peek() !== ',') reader.skipItem();
      continue;
    }
    const scheme = reader.token();
    if (scheme === '') {
      reader.skipItem();
      current = undefined;
      continue;
    }
    current = { scheme: scheme.toLowerCase(), params: Object.create(null) as Record<string, string> };
    challenges.push(current);
    reader.skipSpace();
    if (reader.done || reader.peek() === ',' || reader.atParam()) continue;
    const token68 = TOKEN68.exec(header.slice(reader.position));
    if (token68) {
      current.token68 = token68[0];
      reader.position += token68[0].length;
    }
    reader.skipSpace();
    if (!reader.done && reader.peek() !== ',') reader.skipItem();
  }
  return challenges;
}

/** The `error` of the first challenge with the given scheme, if any. */
export function challengeError(header: string | null, scheme: string): string | undefined {
  if (!header) return undefined;
  return parseWwwAuthenticate(header).find((c) => c.scheme === scheme)?.params.error;
}
