/**
 * The little of ASN.1 DER (ITU-T X.690) that key import needs: read one element, list the
 * elements of a constructed one, write one, and print an OBJECT IDENTIFIER.
 */

export interface Element {
  tag: number;
  /** First byte of the contents. */
  start: number;
  /** One past the last byte of the contents. */
  end: number;
}

/** Reads the element at `offset`; throws `RangeError` when it runs past `limit`. */
export function read(bytes: Uint8Array, offset: number, limit = bytes.length): Element {
  if (offset + 2 > limit) throw new RangeError('truncated DER');
  const tag = bytes[offset]!;
  let length = bytes[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3 || start + count > limit) throw new RangeError('bad DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i]!;
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new RangeError('truncated DER');
  return { tag, start, end };
}

/** The elements inside a constructed element, in order. */
export function children(bytes: Uint8Array, parent: Element): Element[] {
  const list: Element[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const child = read(bytes, offset, parent.end);
    list.push(child);
    offset = child.end;
  }
  return list;
}

/** Reads a whole buffer that must be exactly one element. */
export function readWhole(bytes: Uint8Array): Element {
  const element = read(bytes, 0);
  if (element.end !== bytes.length) throw new RangeError('trailing bytes after DER');
  return element;
}

export function contents(bytes: Uint8Array, element: Element): Uint8Array {
  return bytes.subarray(element.start, element.end);
}

/** Encodes one element. */
export function write(tag: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const head =
    length < 0x80 ? [tag, length]
    : length < 0x100 ? [tag, 0x81, length]
    : [tag, 0x82, length >> 8, length & 0xff];
  const out = new Uint8Array(head.length + length);
  out.set(head);
  let offset = head.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The dotted form of an OBJECT IDENTIFIER's contents. */
export function oid(value: Uint8Array): string {
  const arcs: number[] = [];
  let arc = 0;
  for (const byte of value) {
    arc = arc * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (arcs.length === 0) arcs.push(arc < 80 ? Math.floor(arc / 40) : 2, arc < 80 ? arc % 40 : arc - 80);
      else arcs.push(arc);
      arc = 0;
    }
  }
  return arcs.join('.');
}

export const Tag = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
} as const;
