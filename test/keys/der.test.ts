// The DER reader and writer of key import (src/keys/der.ts), judged by OpenSSL: `openssl
// asn1parse -genstr/-genconf` encodes the elements and object identifiers we compare with, and
// `openssl asn1parse` reads what we write. The length forms are pinned at their edges (X.690
// §8.1.3: short form below 128, then one, two or three length bytes).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { children, contents, oid, read, readWhole, Tag, write } from '../../src/keys/der.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpop-fetch-der-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** DER made by OpenSSL from an `ASN1_generate_nconf` string, or from a whole config. */
function openssl(spec: string, conf = `asn1=${spec}\n`): Uint8Array {
  const out = join(dir, 'out.der');
  writeFileSync(join(dir, 'gen.cnf'), conf);
  execFileSync('openssl', ['asn1parse', '-genconf', join(dir, 'gen.cnf'), '-out', out, '-noout'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Uint8Array(readFileSync(out));
}

/** What OpenSSL reads in DER bytes: offset, depth, header length and length of each element. */
function parsed(bytes: Uint8Array): Array<{ offset: number; depth: number; header: number; length: number }> {
  const dump = execFileSync('openssl', ['asn1parse', '-inform', 'DER'], { input: bytes, encoding: 'utf8' });
  return [...dump.matchAll(/^\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+)/gm)].map((m) => ({ offset: +m[1]!, depth: +m[2]!, header: +m[3]!, length: +m[4]! }));
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const filled = (n: number) => new Uint8Array(n).map((_, i) => i % 251);

describe('write', () => {
  it('encodes each length form as OpenSSL does, at the edges of each form', () => {
    for (const n of [0, 1, 127, 128, 129, 255, 256, 257, 1000, 65535]) {
      const body = filled(n);
      const ours = write(Tag.OCTET_STRING, body);
      expect(hex(ours), `${n} bytes`).toBe(hex(openssl(n === 0 ? "OCT:" : `FORMAT:HEX,OCT:${hex(body)}`)));
      const [element] = parsed(ours);
      expect(element, `${n} bytes`).toEqual({ offset: 0, depth: 0, header: n < 128 ? 2 : n < 256 ? 3 : 4, length: n });
    }
  });

  it('concatenates its parts into one element, as a SEQUENCE of what OpenSSL encodes', () => {
    const conf = 'asn1=SEQUENCE:s\n[s]\na=INT:1\nb=FORMAT:HEX,OCT:00ff10\nc=NULL\nd=OID:1.2.840.10045.3.1.7\n';
    const ours = write(
      Tag.SEQUENCE,
      write(Tag.INTEGER, Uint8Array.of(1)),
      write(Tag.OCTET_STRING, Uint8Array.of(0, 0xff, 0x10)),
      write(Tag.NULL),
      write(Tag.OID, Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07)),
    );
    expect(hex(ours)).toBe(hex(openssl('', conf)));
    // Parts long enough to need long-form lengths inside and out.
    const big = write(Tag.SEQUENCE, write(Tag.OCTET_STRING, filled(130)), write(Tag.OCTET_STRING, filled(200)));
    expect(parsed(big)).toEqual([
      { offset: 0, depth: 0, header: 4, length: 336 },
      { offset: 4, depth: 1, header: 3, length: 130 },
      { offset: 137, depth: 1, header: 3, length: 200 },
    ]);
  });
});

describe('read, children, readWhole', () => {
  it('finds every element where OpenSSL does', () => {
    const conf = 'asn1=SEQUENCE:s\n[s]\na=INT:1\nb=FORMAT:HEX,OCT:' + hex(filled(300)) + '\nc=SEQUENCE:t\nd=NULL\n[t]\ne=OID:2.999.1\nf=FORMAT:HEX,OCT:' + hex(filled(129)) + '\n';
    const bytes = openssl('', conf);
    const top = readWhole(bytes);
    const [a, b, c, d] = children(bytes, top);
    const inner = children(bytes, c!);
    const ours = [top, a!, b!, c!, ...inner, d!].map((e) => [e.start, e.end]);
    expect(ours).toEqual(parsed(bytes).map((t) => [t.offset + t.header, t.offset + t.header + t.length]));
    expect([top, a, b, c, ...inner, d].map((e) => e!.tag)).toEqual([Tag.SEQUENCE, Tag.INTEGER, Tag.OCTET_STRING, Tag.SEQUENCE, Tag.OID, Tag.OCTET_STRING, Tag.NULL]);
    expect(hex(contents(bytes, b!))).toBe(hex(filled(300)));
    expect(children(bytes, d!)).toEqual([]); // an empty element has no children
  });

  it('reads the long forms up to three length bytes, and an empty element at the very end', () => {
    expect(read(Uint8Array.of(0x04, 0x83, 0, 0, 1, 7), 0)).toEqual({ tag: 4, start: 5, end: 6 });
    expect(read(Uint8Array.of(0x04, 0x82, 1, 0, ...filled(256)), 0)).toEqual({ tag: 4, start: 4, end: 260 });
    expect(read(Uint8Array.of(0x05, 0x00), 0)).toEqual({ tag: 5, start: 2, end: 2 });
    expect(read(Uint8Array.of(0x30, 0x02, 0x05, 0x00), 2)).toEqual({ tag: 5, start: 4, end: 4 });
    // BER's long form of an empty element (not minimal, still well delimited).
    expect(read(Uint8Array.of(0x04, 0x81, 0x00), 0)).toEqual({ tag: 4, start: 3, end: 3 });
  });

  it('refuses what runs past its limit, indefinite lengths, lengths of four bytes or more, and trailing bytes', () => {
    const refused: Array<[string, Uint8Array, number?]> = [
      ['nothing', new Uint8Array()],
      ['a tag alone', Uint8Array.of(0x04)],
      ['contents cut short', Uint8Array.of(0x04, 0x03, 1, 2)],
      ['long-form contents cut short', Uint8Array.of(0x04, 0x81, 0x80, ...filled(127))],
      ['length bytes cut short', Uint8Array.of(0x04, 0x82, 0x01)],
      ['an indefinite length (BER only)', Uint8Array.of(0x30, 0x80, 0, 0)],
      ['four length bytes', Uint8Array.of(0x04, 0x84, 0, 0, 0, 1, 7)],
      ['an element past the limit given', Uint8Array.of(0x04, 0x02, 1, 2), 3],
      ['a header past the limit given', Uint8Array.of(0x05, 0x00), 1],
    ];
    for (const [what, bytes, limit] of refused) expect(() => read(bytes, 0, limit), what).toThrow(RangeError);
    expect(() => readWhole(Uint8Array.of(0x05, 0x00, 0x00))).toThrow('trailing bytes after DER');
    expect(readWhole(Uint8Array.of(0x05, 0x00))).toEqual({ tag: 5, start: 2, end: 2 });
    // A child that runs past its parent, though not past the buffer.
    const bytes = Uint8Array.of(0x30, 0x03, 0x04, 0x02, 1, 2);
    expect(() => children(bytes, read(bytes, 0))).toThrow(RangeError);
  });
});

describe('oid', () => {
  it('prints the dotted form of what OpenSSL encodes, first two arcs included', () => {
    for (const dotted of [
      '1.2.840.10045.3.1.7',
      '1.2.840.113549.1.5.13',
      '2.16.840.1.101.3.4.1.42',
      '1.3.101.112',
      '0.9.2342.19200300.100.1.1',
      '0.39.1',
      '1.0',
      '1.39.127.128.16383.16384',
      '2.0.5',
      '2.39',
      '2.47.1',
      '2.48',
      '2.999.1',
      '2.4294967295',
    ]) {
      const der = openssl(`OID:${dotted}`);
      expect(oid(contents(der, readWhole(der))), dotted).toBe(dotted);
    }
  });
});

