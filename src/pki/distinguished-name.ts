import type { Name, NameAttribute } from './certificate.js';

/**
 * Distinguished names as RFC 4514 strings: parsed into attributes so that a registered
 * `tls_client_auth_subject_dn` compares with a certificate's subject by structure (RFC 8705 §2.1.2),
 * not by one library's way of printing it. Values compare as RFC 4517 caseIgnoreMatch does: case
 * and insignificant spaces aside; a `#hex` value compares by its encoding.
 */

/** Attribute names of RFC 4514 §3 and the ones PKIoverheid subjects carry, by lower-case name. */
const NAMES: Record<string, string> = {
  cn: '2.5.4.3',
  l: '2.5.4.7',
  st: '2.5.4.8',
  o: '2.5.4.10',
  ou: '2.5.4.11',
  c: '2.5.4.6',
  street: '2.5.4.9',
  dc: '0.9.2342.19200300.100.1.25',
  uid: '0.9.2342.19200300.100.1.1',
  serialnumber: '2.5.4.5',
  sn: '2.5.4.4',
  gn: '2.5.4.42',
  givenname: '2.5.4.42',
  title: '2.5.4.12',
  organizationidentifier: '2.5.4.97',
  postalcode: '2.5.4.17',
  emailaddress: '1.2.840.113549.1.9.1',
  e: '1.2.840.113549.1.9.1',
};
/** How each type is written back: RFC 4514's names, then the common long ones. */
const SHORT: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '2.5.4.5': 'serialNumber',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

export const MAX_DN_LENGTH = 1024;

export class DnSyntaxError extends Error {}

interface ParsedAttribute {
  type: string;
  text?: string;
  der?: Buffer;
}

/** An RFC 4514 string as RDNs from the root down (the string lists them leaf first). */
export function parseDn(input: string): ParsedAttribute[][] {
  if (input.length > MAX_DN_LENGTH) throw new DnSyntaxError('distinguished name too long');
  const rdns: ParsedAttribute[][] = [];
  let rdn: ParsedAttribute[] = [];
  let i = 0;
  const s = input.trim();
  if (s === '') return [];
  for (;;) {
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new DnSyntaxError(`attribute without "=" at position ${i}`);
    const type = attributeType(s.slice(i, eq).trim());
    i = eq + 1;
    while (s[i] === ' ') i++;
    let attr: ParsedAttribute;
    if (s[i] === '#') {
      const m = /^#((?:[0-9a-fA-F]{2})+)/.exec(s.slice(i));
      if (!m) throw new DnSyntaxError('malformed #hex value');
      attr = { type, der: Buffer.from(m[1]!, 'hex') };
      i += m[0].length;
      while (s[i] === ' ') i++;
    } else {
      const bytes: number[] = [];
      let trailingSpaces = 0;
      for (; i < s.length && s[i] !== ',' && s[i] !== '+'; i++) {
        const ch = s[i]!;
        if (ch === '\\') {
          const next = s.slice(i + 1, i + 3);
          if (/^[0-9a-fA-F]{2}$/.test(next)) {
            bytes.push(parseInt(next, 16));
            i += 2;
          } else if (/^[ "#+,;<=>\\]/.test(next)) {
            bytes.push(...Buffer.from(next[0]!));
            i += 1;
          } else throw new DnSyntaxError(`invalid escape at position ${i}`);
          trailingSpaces = 0;
        } else {
          if (ch === '"' || ch === ';' || ch === '<' || ch === '>')
            throw new DnSyntaxError(`"${ch}" must be escaped with a backslash (position ${i})`);
          bytes.push(...Buffer.from(ch));
          trailingSpaces = ch === ' ' ? trailingSpaces + 1 : 0;
        }
      }
      // Unescaped spaces before a separator are not part of the value.
      const value = Buffer.from(bytes.slice(0, bytes.length - trailingSpaces));
      attr = { type, text: value.toString('utf8') };
    }
    rdn.push(attr);
    if (i >= s.length) break;
    const sep = s[i];
    i++;
    if (sep === ',') {
      rdns.push(rdn);
      rdn = [];
    } else if (sep !== '+') throw new DnSyntaxError(`unexpected "${sep}" at position ${i - 1}`);
  }
  rdns.push(rdn);
  return rdns.reverse();
}

function attributeType(raw: string): string {
  const name = raw.replace(/^oid\./i, '');
  if (/^\d+(\.\d+)+$/.test(name)) return name;
  const known = NAMES[name.toLowerCase()];
  if (!known) throw new DnSyntaxError(`unknown attribute type "${raw.slice(0, 40)}"; use its dotted OID`);
  return known;
}

/** caseIgnoreMatch, roughly: Unicode-normalised, case folded, insignificant spaces removed. */
function normalised(text: string): string {
  return text.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

function sameAttribute(expected: ParsedAttribute, actual: NameAttribute): boolean {
  if (expected.type !== actual.type) return false;
  if (expected.der) return expected.der.equals(actual.der);
  return actual.text !== undefined && normalised(expected.text!) === normalised(actual.text);
}

/** Whether a certificate's name is the registered DN: the same RDNs in the same order, each the same set. */
export function dnMatches(expected: ParsedAttribute[][], actual: Name): boolean {
  // An empty name identifies no one: it would match every certificate without a subject.
  if (expected.length === 0) return false;
  if (expected.length !== actual.length) return false;
  return expected.every((rdn, k) => {
    const other = actual[k]!;
    if (rdn.length !== other.length) return false;
    const used = new Set<number>();
    return rdn.every((attr) => {
      const j = other.findIndex((o, idx) => !used.has(idx) && sameAttribute(attr, o));
      if (j < 0) return false;
      used.add(j);
      return true;
    });
  });
}

/** A name as an RFC 4514 string (leaf RDN first), for showing and for registering a client by its certificate. */
export function formatDn(name: Name): string {
  return [...name]
    .reverse()
    .map((rdn) =>
      rdn
        .map((a) => {
          const type = SHORT[a.type] ?? a.type;
          if (a.text === undefined || !SHORT[a.type]) return `${type}=#${a.der.toString('hex')}`;
          return `${type}=${escapeValue(a.text)}`;
        })
        .join('+'),
    )
    .join(',');
}

function escapeValue(text: string): string {
  return text
    .replace(/[\\"+,;<>=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ')
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
