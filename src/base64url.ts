/**
 * base64url without padding (RFC 4648 §5), the encoding of every JOSE segment.
 * Uses `Uint8Array.prototype.toBase64` / `Uint8Array.fromBase64` where the runtime has them
 * (checked once at load) and `btoa`/`atob` elsewhere.
 */

interface Base64Native {
  toBase64?: (this: Uint8Array, options: { alphabet: 'base64url'; omitPadding: boolean }) => string;
}
interface Base64NativeStatic {
  fromBase64?: (text: string, options: { alphabet: 'base64url'; lastChunkHandling: 'loose' }) => Uint8Array;
}

const nativeEncode = (Uint8Array.prototype as Base64Native).toBase64;
const nativeDecode = (Uint8Array as unknown as Base64NativeStatic).fromBase64;
const ALPHABET = /^[A-Za-z0-9_-]*$/;

function fromBinary(binary: string): string {
  // The unpadded length is known, so the padding is cut, not searched for: a `/=+$/` replace
  // costs several times the btoa itself.
  return btoa(binary).slice(0, Math.ceil((binary.length * 4) / 3)).replace(/\+/g, '-').replace(/\//g, '_');
}

/** Encodes bytes as base64url without padding. */
export function encode(bytes: Uint8Array): string {
  if (nativeEncode) return nativeEncode.call(bytes, { alphabet: 'base64url', omitPadding: true });
  // `apply`, not a spread: spreading 64 bytes into arguments costs three times as much.
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return fromBinary(binary);
}

/**
 * Encodes a string of code units below 0x80 (ASCII, such as JSON whose values are ASCII)
 * without a round trip through bytes.
 */
export function encodeAscii(text: string): string {
  return fromBinary(text);
}

/** Encodes a string's UTF-8 bytes. */
export function encodeText(text: string): string {
  // ASCII is the common case (JSON of URLs, ids, base64url values): skip the byte detour.
  return /^[\x00-\x7f]*$/.test(text) ? fromBinary(text) : encode(new TextEncoder().encode(text));
}

/** Decodes base64url (padding optional); throws `SyntaxError` on anything else. */
export function decode(text: string): Uint8Array {
  const unpadded = text.replace(/={1,2}$/, '');
  if (!ALPHABET.test(unpadded) || unpadded.length % 4 === 1) {
    throw new SyntaxError('invalid base64url');
  }
  if (nativeDecode) return nativeDecode(unpadded, { alphabet: 'base64url', lastChunkHandling: 'loose' });
  const binary = atob(unpadded.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
