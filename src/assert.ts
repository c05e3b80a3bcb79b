/**
 * Argument checks shared by every export. A wrong type is a `TypeError` with
 * `code: 'ERR_INVALID_ARG_TYPE'`; a right type with a bad value is a `TypeError` with
 * `code: 'ERR_INVALID_ARG_VALUE'`. Messages name the argument path.
 */

export type ArgErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE';

/** A `TypeError` with a Node-style `code`. */
export interface ArgumentError extends TypeError {
  code: ArgErrorCode;
}

function argumentError(code: ArgErrorCode, message: string): ArgumentError {
  const err = new TypeError(message) as ArgumentError;
  err.code = code;
  return err;
}

/** `"path" must be <expected>` as a type error. */
export function invalidType(path: string, expected: string): ArgumentError {
  return argumentError('ERR_INVALID_ARG_TYPE', `"${path}" must be ${expected}`);
}

/** `"path" <problem>` as a value error. */
export function invalidValue(path: string, problem: string): ArgumentError {
  return argumentError('ERR_INVALID_ARG_VALUE', `"${path}" ${problem}`);
}

/** The `Symbol.toStringTag` of a value, which survives crossing realms unlike `instanceof`. */
export function tagOf(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isCryptoKey(value: unknown): value is CryptoKey {
  return tagOf(value) === 'CryptoKey';
}

export function isCryptoKeyPair(value: unknown): value is CryptoKeyPair {
  return isObject(value) && isCryptoKey(value.privateKey) && isCryptoKey(value.publicKey);
}

export function assertObject(value: unknown, path: string): asserts value is object {
  if (!isObject(value) || Array.isArray(value)) throw invalidType(path, 'an object');
}

export function assertOptionalObject(
  value: unknown,
  path: string,
): asserts value is object | undefined {
  if (value !== undefined) assertObject(value, path);
}

export function assertString(value: unknown, path: string): asserts value is string {
  if (typeof value !== 'string') throw invalidType(path, 'a string');
  if (value === '') throw invalidValue(path, 'must not be empty');
}

export function assertOptionalString(value: unknown, path: string): asserts value is string | undefined {
  if (value !== undefined) assertString(value, path);
}

export function assertBoolean(value: unknown, path: string): asserts value is boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw invalidType(path, 'a boolean');
}

export function assertFunction(value: unknown, path: string): asserts value is Function | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalidType(path, 'a function');
}

/** A finite number within [min, max]; `integer` demands a whole number. */
export function assertNumber(
  value: unknown,
  path: string,
  { min = -Infinity, max = Infinity, integer = false } = {},
): asserts value is number | undefined {
  if (value === undefined) return;
  if (typeof value !== 'number') throw invalidType(path, 'a number');
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    const kind = integer ? 'an integer' : 'a number';
    throw invalidValue(path, `must be ${kind} between ${min} and ${max}`);
  }
}

/** One of a fixed set of strings. */
export function assertOneOf<T extends string>(
  value: unknown,
  path: string,
  allowed: readonly T[],
): asserts value is T | undefined {
  if (value === undefined) return;
  if (typeof value !== 'string') throw invalidType(path, 'a string');
  if (!allowed.includes(value as T)) {
    throw invalidValue(path, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  }
}

/** An absolute URL of any scheme, parsed; `expected` completes "must be …" when it is not one. */
export function parseUrl(value: unknown, path: string, expected = 'an absolute URL'): URL {
  if (typeof value !== 'string' && tagOf(value) !== 'URL') throw invalidType(path, 'a string or URL');
  try {
    return new URL(String(value));
  } catch {
    throw invalidValue(path, `must be ${expected}`);
  }
}

/** An absolute http(s) URL, parsed. */
export function parseHttpUrl(value: unknown, path: string): URL {
  const expected = 'an absolute http: or https: URL';
  const url = parseUrl(value, path, expected);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidValue(path, `must be ${expected}`);
  return url;
}

/** True for hosts that never leave this machine (loopback names and addresses). */
export function isLoopback(url: URL): boolean {
  const host = url.hostname;
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '[::1]' ||
    /^127(?:\.\d{1,3}){3}$/.test(host)
  );
}

/** A CryptoKeyPair whose private key can sign with ECDSA P-256. */
export function assertSigningKeyPair(value: unknown, path: string): asserts value is CryptoKeyPair {
  if (!isCryptoKeyPair(value)) throw invalidType(path, 'a CryptoKeyPair');
  const algorithm = value.privateKey.algorithm as EcKeyAlgorithm;
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw invalidValue(path, 'must be an ECDSA P-256 key pair (use generateKeyPair or importKeyPair)');
  }
  if (value.privateKey.type !== 'private' || !value.privateKey.usages.includes('sign')) {
    throw invalidValue(`${path}.privateKey`, 'must be a private key usable for "sign"');
  }
  if (value.publicKey.type !== 'public') throw invalidValue(`${path}.publicKey`, 'must be a public key');
}
