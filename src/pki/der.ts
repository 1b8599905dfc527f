/**
 * A small DER reader (X.690) for what node:crypto does not expose of a certificate or a CRL: the
 * subject as it is encoded, its serialNumber attribute, the extensions, a CRL's revoked serials.
 * Strict: definite lengths only, minimal length encodings, nothing past the end; any other input
 * throws DerError. Reads from a Buffer without copying.
 */

export class DerError extends Error {}

export interface DerNode {
  /** The identifier octet: class, constructed bit and tag number (tags above 30 are refused). */
  tag: number;
  /** The whole element, header included. */
  raw: Buffer;
  /** The contents octets. */
  value: Buffer;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Nesting deeper than this is no certificate: bounded, so that hostile input cannot recurse far. */
const MAX_DEPTH = 32;

/** The element at `offset` of `buf`; its end must not pass `end`. */
export function readNode(buf: Buffer, offset = 0, end = buf.length): DerNode {
  if (offset + 2 > end) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used here');
  let length = buf[offset + 1]!;
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new DerError('indefinite or oversized length');
    if (offset + 2 + count > end) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i]!;
    // DER: the shortest form, no leading zero octet.
    if (length < 0x80 || buf[offset + 2] === 0) throw new DerError('length not minimally encoded');
    header += count;
  }
  const start = offset + header;
  if (start + length > end) throw new DerError('element runs past its container');
  return { tag, raw: buf.subarray(offset, start + length), value: buf.subarray(start, start + length) };
}

/** The one element `buf` holds, nothing after it. */
export function readWhole(buf: Buffer): DerNode {
  const node = readNode(buf);
  if (node.raw.length !== buf.length) throw new DerError('trailing bytes after the element');
  return node;
}

/** The elements inside a constructed node, in order. */
export function children(node: DerNode, depth = 0): DerNode[] {
  if (!(node.tag & 0x20)) throw new DerError('not a constructed element');
  if (depth > MAX_DEPTH) throw new DerError('nested too deeply');
  const out: DerNode[] = [];
  let offset = 0;
  while (offset < node.value.length) {
    const child = readNode(node.value, offset);
    out.push(child);
    offset += child.raw.length;
  }
  return out;
}

export function expect(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node || node.tag !== tag) throw new DerError(`${what}: unexpected element`);
  return node;
}

/** Dotted-decimal form of an OBJECT IDENTIFIER. */
export function oid(node: DerNode): string {
  expect(node, TAG.OID, 'object identifier');
  const v = node.value;
  if (v.length === 0 || v.length > 64) throw new DerError('object identifier length');
  const arcs: number[] = [];
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    if (n === 0 && b === 0x80) throw new DerError('object identifier not minimally encoded');
    n = n * 128 + (b & 0x7f);
    if (n > Number.MAX_SAFE_INTEGER / 128) throw new DerError('object identifier arc too large');
    if (!(b & 0x80)) {
      arcs.push(n);
      n = 0;
    } else if (i === v.length - 1) throw new DerError('object identifier truncated');
  }
  const first = arcs.shift()!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

/** An INTEGER's contents as lower-case hex without leading zero octets: serial numbers compare so. */
export function integerHex(node: DerNode): string {
  expect(node, TAG.INTEGER, 'integer');
  if (node.value.length === 0) throw new DerError('empty integer');
  let v = node.value;
  while (v.length > 1 && v[0] === 0) v = v.subarray(1);
  return v.toString('hex');
}

/** A small non-negative INTEGER (path lengths, versions). */
export function smallInteger(node: DerNode): number {
  expect(node, TAG.INTEGER, 'integer');
  if (node.value.length === 0 || node.value.length > 4 || node.value[0]! & 0x80)
    throw new DerError('integer out of range');
  return node.value.readUIntBE(0, node.value.length);
}

export function boolean(node: DerNode): boolean {
  expect(node, TAG.BOOLEAN, 'boolean');
  if (node.value.length !== 1) throw new DerError('boolean length');
  return node.value[0] !== 0;
}

/** UTCTime or GeneralizedTime (RFC 5280 §4.1.2.5: seconds, `Z`) as epoch milliseconds. */
export function time(node: DerNode): number {
  const s = node.value.toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (node.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (node.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    year = Number(m[1]);
  } else throw new DerError('time not in the RFC 5280 form');
  const t = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (Number.isNaN(t)) throw new DerError('invalid time');
  return t;
}

/** A directory string's text (RFC 5280 §4.1.2.4); BMP and Universal strings decoded from UTF-16/32 BE. */
export function directoryString(node: DerNode): string {
  switch (node.tag) {
    case TAG.UTF8_STRING:
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
      return node.value.toString('utf8');
    case TAG.TELETEX_STRING:
      return node.value.toString('latin1');
    case TAG.BMP_STRING: {
      if (node.value.length % 2) throw new DerError('BMPString length');
      const swapped = Buffer.from(node.value);
      return swapped.swap16().toString('utf16le');
    }
    case TAG.UNIVERSAL_STRING: {
      if (node.value.length % 4) throw new DerError('UniversalString length');
      let out = '';
      for (let i = 0; i < node.value.length; i += 4) out += String.fromCodePoint(node.value.readUInt32BE(i));
      return out;
    }
    default:
      throw new DerError('not a string');
  }
}
