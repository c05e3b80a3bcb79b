/**
 * A parser for `WWW-Authenticate` (RFC 9110 §11.6.1): several challenges in one header,
 * auth-params with token or quoted-string values (with `\` escapes and commas inside quotes),
 * or a token68. It never throws: a server's odd header must not crash the client, so it
 * returns the challenges it could read.
 *
 * It reads the header with a few sticky regular expressions, one per grammar item, each
 * consuming its item and whatever junk follows it up to the next top-level comma.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1
 */

/** One challenge: a lower-cased scheme and its parameters (names lower-cased). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
  token68?: string;
}

// Grammar pieces: token = 1*tchar (RFC 9110 §5.6.2); quoted-string with `\` escapes, where an
// unterminated one runs to the end; the rest of an item up to the next comma outside quotes.
// An auth-param is `token BWS "=" BWS ( token / quoted-string )`, unless the text is a token68
// whose `=` padding ends the item ("abc==,"): that is a token68, not a parameter named "abc".
const PARAM = /(?![\w\-.~+/]+=+\s*(?:,|$))([!#$%&'*+\-.^`|~\w]+)[ \t]*=[ \t]*(?:"((?:[^"\\]|\\[^]?)*)"?|([!#$%&'*+\-.^`|~\w]*))(?:"(?:[^"\\]|\\[^]?)*"?|[^,"])*/y;
const SCHEME = /([!#$%&'*+\-.^`|~\w]*)[ \t]*/y;
// A token68 (if any), then the rest of the item.
const TOKEN68 = /([\w\-.~+/]+=*)?(?:"(?:[^"\\]|\\[^]?)*"?|[^,"])*/y;
const SEPARATORS = /[ \t,]*/y;

/**
 * Parses a `WWW-Authenticate` header value into its challenges, in order.
 *
 * @param header the header value (several headers may be joined with `, ` first).
 * @example
 * parseWwwAuthenticate('Bearer realm="x", DPoP error="use_dpop_nonce", algs="ES256"')
 * // [{ scheme: 'bearer', params: { realm: 'x' } }, { scheme: 'dpop', params: { error: 'use_dpop_nonce', algs: 'ES256' } }]
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  let at = 0;
  let match: RegExpExecArray | null;
  const read = (pattern: RegExp) => {
    pattern.lastIndex = at;
    match = pattern.exec(header);
    if (match) at = pattern.lastIndex;
    return match;
  };
  while (read(SEPARATORS) && at < header.length) {
    // An item is a parameter of the current challenge, or starts a new one. A parameter after
    // an item that is no challenge belongs to nothing: dropped, never read as a scheme.
    if (read(PARAM)) {
      if (!current) continue;
    } else {
      if (!read(SCHEME)![1]) {
        // Not a challenge: skip the item, and any parameters after it belong to nothing.
        read(TOKEN68);
        current = undefined;
        continue;
      }
      challenges.push((current = { scheme: match![1]!.toLowerCase(), params: Object.create(null) as Record<string, string> }));
      if (!read(PARAM)) {
        if (read(TOKEN68)![1]) current.token68 = match![1]!;
        continue;
      }
    }
    const name = match![1]!.toLowerCase();
    // The first value wins; params has no prototype, so "__proto__" is plain data.
    if (!(name in current.params)) current.params[name] = match![3] ?? match![2]!.replace(/\\([^])/g, '$1');
  }
  return challenges;
}

/** The `error` of the first challenge with the given scheme, if any. */
export function challengeError(header: string | null, scheme: string): string | undefined {
  if (!header) return undefined;
  return parseWwwAuthenticate(header).find((c) => c.scheme === scheme)?.params.error;
}
