import { X509Certificate } from 'node:crypto';
import {
  boolean,
  children,
  DerError,
  type DerNode,
  directoryString,
  expect,
  integerHex,
  oid,
  readWhole,
  smallInteger,
  TAG,
  time,
} from './der.js';

/** One attribute of a distinguished name, in certificate order. */
export interface NameAttribute {
  /** Dotted OID of the attribute type. */
  type: string;
  /** The text of a string value; undefined for a value that is no string (compared by its encoding). */
  text: string | undefined;
  /** The value's DER encoding (RFC 4514 `#hex` compares with it). */
  der: Buffer;
}

/** A distinguished name: relative distinguished names from the root down, each a set of attributes. */
export type Name = NameAttribute[][];

export interface SubjectAltNames {
  dns: string[];
  uri: string[];
  /** Canonical text form (IPv4 dotted, IPv6 compressed lower case). */
  ip: string[];
  email: string[];
}

/** What the chain check and the client matching read of a certificate, parsed once. */
export interface ParsedCertificate {
  x509: X509Certificate;
  der: Buffer;
  /** Serial number as lower-case hex without leading zeros. */
  serial: string;
  /** The issuer and subject Names as encoded: issuer and subject match by these bytes (RFC 5280 §7.1). */
  issuerDer: Buffer;
  subjectDer: Buffer;
  subject: Name;
  notBefore: number;
  notAfter: number;
  /** basicConstraints cA. */
  ca: boolean;
  pathLen: number | null;
  /** keyUsage bits by name; null when the extension is absent. */
  keyUsage: Set<KeyUsage> | null;
  /** extKeyUsage OIDs; null when absent. */
  extKeyUsage: string[] | null;
  san: SubjectAltNames;
  /** Critical extensions this code does not process: a certificate with one is refused (RFC 5280 §4.2). */
  unknownCritical: string[];
}

export type KeyUsage =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';
const KEY_USAGE_BITS: KeyUsage[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

export const OID = {
  serialNumber: '2.5.4.5',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

/**
 * Extensions understood here or harmless to pass over when marked critical: key identifiers,
 * policies (not enforced: the trust anchors are the policy), CRL distribution points, AIA, qualified
 * certificate statements. Name constraints, policy constraints and anything unknown are not processed,
 * so a certificate marking them critical is refused.
 */
const HANDLED_EXTENSIONS = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.32', // certificatePolicies
  '2.5.29.31', // cRLDistributionPoints
  '1.3.6.1.5.5.7.1.1', // authorityInfoAccess
  '1.3.6.1.5.5.7.1.3', // qcStatements
]);

/** Bound on a certificate's size: PKIoverheid certificates are 1.5–2.5 KiB. */
export const MAX_CERTIFICATE_BYTES = 16 * 1024;

/** A DER certificate parsed, or DerError. node:crypto parses it as well: both must accept it. */
export function parseCertificate(der: Buffer): ParsedCertificate {
  if (der.length > MAX_CERTIFICATE_BYTES) throw new DerError('certificate too large');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    throw new DerError('not an X.509 certificate');
  }
  const [tbs] = children(expect(readWhole(der), TAG.SEQUENCE, 'certificate'));
  const fields = children(expect(tbs, TAG.SEQUENCE, 'tbsCertificate'));
  let i = 0;
  if (fields[0]?.tag === 0xa0) i++; // [0] version
  const serial = integerHex(fields[i++]!);
  i++; // signature algorithm (node verifies the signature)
  const issuer = expect(fields[i++], TAG.SEQUENCE, 'issuer');
  const [notBefore, notAfter] = children(expect(fields[i++], TAG.SEQUENCE, 'validity'));
  const subject = expect(fields[i++], TAG.SEQUENCE, 'subject');
  i++; // subjectPublicKeyInfo
  const cert: ParsedCertificate = {
    x509,
    der,
    serial,
    issuerDer: issuer.raw,
    subjectDer: subject.raw,
    subject: parseName(subject),
    notBefore: time(notBefore!),
    notAfter: time(notAfter!),
    ca: false,
    pathLen: null,
    keyUsage: null,
    extKeyUsage: null,
    san: { dns: [], uri: [], ip: [], email: [] },
    unknownCritical: [],
  };
  for (; i < fields.length; i++) {
    if (fields[i]!.tag !== 0xa3) continue; // issuer/subject unique ids
    const seen = new Set<string>();
    for (const ext of children(expect(children(fields[i]!)[0], TAG.SEQUENCE, 'extensions'))) {
      const parts = children(expect(ext, TAG.SEQUENCE, 'extension'));
      const id = oid(parts[0]!);
      if (seen.has(id)) throw new DerError('extension repeated');
      seen.add(id);
      const critical = parts.length === 3 ? boolean(parts[1]!) : false;
      const value = readWhole(expect(parts[parts.length - 1], TAG.OCTET_STRING, 'extension value').value);
      readExtension(cert, id, value);
      if (critical && !HANDLED_EXTENSIONS.has(id)) cert.unknownCritical.push(id);
    }
  }
  return cert;
}

function readExtension(cert: ParsedCertificate, id: string, value: DerNode): void {
  switch (id) {
    case OID.basicConstraints: {
      const parts = children(expect(value, TAG.SEQUENCE, 'basicConstraints'));
      let j = 0;
      if (parts[j]?.tag === TAG.BOOLEAN) cert.ca = boolean(parts[j++]!);
      if (parts[j]) cert.pathLen = smallInteger(parts[j]!);
      return;
    }
    case OID.keyUsage: {
      const bits = expect(value, TAG.BIT_STRING, 'keyUsage').value;
      if (bits.length < 1 || bits[0]! > 7) throw new DerError('keyUsage bits');
      cert.keyUsage = new Set();
      KEY_USAGE_BITS.forEach((name, bit) => {
        const octet = bits[1 + (bit >> 3)];
        if (octet !== undefined && octet & (0x80 >> (bit & 7))) cert.keyUsage!.add(name);
      });
      return;
    }
    case OID.extKeyUsage:
      cert.extKeyUsage = children(expect(value, TAG.SEQUENCE, 'extKeyUsage')).map(oid);
      return;
    case OID.subjectAltName:
      for (const name of children(expect(value, TAG.SEQUENCE, 'subjectAltName'))) {
        // Context-specific, primitive: [1] rfc822Name, [2] dNSName, [6] URI (IA5 text), [7] iPAddress (octets).
        if (name.tag === 0x81) cert.san.email.push(name.value.toString('latin1'));
        else if (name.tag === 0x82) cert.san.dns.push(name.value.toString('latin1'));
        else if (name.tag === 0x86) cert.san.uri.push(name.value.toString('latin1'));
        else if (name.tag === 0x87) cert.san.ip.push(ipText(name.value));
      }
      return;
  }
}

function parseName(name: DerNode): Name {
  return children(name).map((rdn) =>
    children(expect(rdn, TAG.SET, 'relative distinguished name')).map((atv) => {
      const [type, value] = children(expect(atv, TAG.SEQUENCE, 'attribute'));
      let text: string | undefined;
      try {
        text = directoryString(value!);
      } catch {
        text = undefined;
      }
      return { type: oid(type!), text, der: value!.raw };
    }),
  );
}

/** The text form of an address as SAN octets (4 or 16) or as written, for comparing; undefined if it is none. */
export function ipText(octets: Buffer): string {
  if (octets.length === 4) return [...octets].join('.');
  if (octets.length === 16) {
    const groups: string[] = [];
    for (let k = 0; k < 16; k += 2) groups.push(octets.readUInt16BE(k).toString(16));
    return canonicalIp(groups.join(':')) ?? '';
  }
  return '';
}

/** An address in the one text form WHATWG URL gives it; undefined when it is no IPv4 or IPv6 address. */
export function canonicalIp(address: string): string | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) {
    const parts = address.split('.').map(Number);
    return parts.every((p) => p <= 255) ? parts.join('.') : undefined;
  }
  if (!/^[0-9a-fA-F:.]+$/.test(address) || !address.includes(':')) return undefined;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** The values of one attribute type in a name (e.g. serialNumber), in order. */
export function attributeValues(name: Name, type: string): string[] {
  return name.flat().flatMap((a) => (a.type === type && a.text !== undefined ? [a.text] : []));
}

/** DER bytes of a PEM bundle's certificates, in order; other blocks are passed over. */
export function pemCertificates(pem: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(pem); m; m = re.exec(pem)) out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  return out;
}
