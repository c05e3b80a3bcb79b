/**
 * Error classes thrown by dpop-fetch, and the codes they carry.
 *
 * Argument mistakes are `TypeError`s with Node's codes (`ERR_INVALID_ARG_TYPE`,
 * `ERR_INVALID_ARG_VALUE`), made by `assert.ts`. Everything else is a {@link DPoPError}
 * (or a subclass) whose `code` is one of {@link ErrorCode}, so `switch (err.code)` works.
 * No message, field or `cause` ever holds a secret, a token or a key.
 */

/**
 * Every `code` a {@link DPoPError} can carry. Inside the library the codes are written as
 * literals, checked against this union by the compiler, so that a bundle holds only the codes
 * its own code can throw and not this whole table (issue 7).
 */
export const ErrorCode = {
  /** The key given to `importKeyPair` is not a usable P-256 private key. */
  KEY_IMPORT: 'ERR_KEY_IMPORT',
  /** The token endpoint answered with an OAuth error (`error` field). */
  OAUTH: 'ERR_OAUTH',
  /** The token endpoint answered with something that is not a valid token response. */
  TOKEN_RESPONSE: 'ERR_TOKEN_RESPONSE',
  /** The server issued a token type the caller refused (e.g. `Bearer` with `requireDPoP`). */
  TOKEN_TYPE: 'ERR_TOKEN_TYPE',
  /** A nonce was demanded but none could be read (missing header, or hidden by CORS). */
  NONCE_MISSING: 'ERR_NONCE_MISSING',
  /** The request body is a one-shot stream and the server asked for a retry. */
  BODY_NOT_REPLAYABLE: 'ERR_BODY_NOT_REPLAYABLE',
  /** The token endpoint answered with a redirect, which is never followed. */
  TOKEN_REDIRECT: 'ERR_TOKEN_REDIRECT',
  /** The token endpoint could not be reached. */
  TOKEN_NETWORK: 'ERR_TOKEN_NETWORK',
  /** A resource redirect could not be followed safely: more than 20, a Location that is not http(s), or hidden by the runtime (opaque redirect). */
  REDIRECT: 'ERR_REDIRECT',
  /** The browser key store (IndexedDB) is unavailable or failed, or Web Locks are missing for the tabs' store. */
  KEY_STORE: 'ERR_KEY_STORE',
  /**
   * There is no signed-in session to get a token from: the user signed out (`deleteKeyPair`, in
   * this tab or another), or a refresh-token source has no refresh token, neither given nor
   * stored. No request was sent with a token. Sign the user in again.
   */
  LOGIN_REQUIRED: 'ERR_LOGIN_REQUIRED',
  /**
   * Server metadata (RFC 8414, OpenID Connect Discovery, RFC 9728) could not be found or used:
   * unreachable, not a JSON document, an `issuer` or `resource` other than the one asked for, no
   * ES256 among the DPoP algorithms listed, or a pushed authorization request refused.
   */
  DISCOVERY: 'ERR_DISCOVERY',
} as const;

/** The union of every {@link ErrorCode} value. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Options shared by every dpop-fetch error. */
export interface DPoPErrorOptions {
  cause?: unknown;
  /** The response that caused the error; kept non-enumerable so logs never dump it. */
  response?: Response | undefined;
}

/**
 * The base class of every non-argument error dpop-fetch throws.
 *
 * @example
 * try { await api(url) } catch (err) {
 *   if (err instanceof DPoPError && err.code === 'ERR_OAUTH') reauthenticate();
 * }
 */
export class DPoPError extends Error {
  // Fields are `declare`d and assigned in the constructor: the same own properties, without a
  // class-field definition each in the bundle.
  /** One of {@link ErrorCode}. */
  declare readonly code: ErrorCode;
  /** The response involved, if any (non-enumerable). */
  declare readonly response: Response | undefined;

  constructor(code: ErrorCode, message: string, options?: DPoPErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    // defineProperty's defaults: not enumerable (nor writable), so logging the error never dumps a body.
    Object.defineProperty(this, 'response', { value: options?.response });
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** Fields of an OAuth 2.0 error response (RFC 6749 §5.2). */
export interface OAuthErrorFields {
  error: string;
  error_description?: string | undefined;
  error_uri?: string | undefined;
  status: number;
}

/**
 * The token endpoint refused the request with an OAuth error (RFC 6749 §5.2).
 *
 * `response` is kept but not enumerable, so logging the error never dumps a body.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * @example
 * if (err instanceof OAuthError && err.error === 'invalid_client') checkCredentials();
 */
export class OAuthError extends DPoPError {
  declare readonly error: string;
  declare readonly error_description: string | undefined;
  declare readonly error_uri: string | undefined;
  declare readonly status: number;

  constructor(message: string, fields: OAuthErrorFields, response?: Response) {
    super('ERR_OAUTH', message, { response });
    this.error = fields.error;
    this.error_description = fields.error_description;
    this.error_uri = fields.error_uri;
    this.status = fields.status;
  }
}

/**
 * The token endpoint's answer could not be used: not JSON, no `access_token`, a bad
 * `expires_in`, a redirect, an unreachable endpoint, or a token type the caller refused.
 *
 * @example
 * if (err instanceof TokenResponseError) console.error(err.status, err.message);
 */
export class TokenResponseError extends DPoPError {
  /** The HTTP status of the answer, or 0 when there was none. */
  declare readonly status: number;

  constructor(code: ErrorCode, message: string, status: number, options?: DPoPErrorOptions) {
    super(code, message, options);
    this.status = status;
  }
}
