import crypto from 'node:crypto';
import net from 'node:net';

/** A certificate header longer than this is refused unread: a chain of a few certificates fits easily. */
export const MAX_CERTIFICATE_HEADER_LENGTH = 16 * 1024;

/** The formats of a trusted proxy's client certificate header. */
export type CertificateHeaderFormat = 'rfc9440' | 'nginx-escaped-pem';

/**
 * The DER of the client certificate a TLS-terminating proxy passed on: RFC 9440 `Client-Cert`
 * (a structured-field byte sequence, `:base64:`), or nginx's `$ssl_client_escaped_cert` (PEM,
 * URL-encoded). Undefined for an empty, oversized or malformed value: no certificate presented.
 */
export function certificateFromHeader(value: string | undefined, format: CertificateHeaderFormat): Buffer | undefined {
  if (value === undefined || value.length === 0 || value.length > MAX_CERTIFICATE_HEADER_LENGTH) return undefined;
  if (format === 'rfc9440') {
    const m = /^\s*:([A-Za-z0-9+/]+={0,2}):\s*$/.exec(value);
    if (!m || m[1]!.length % 4 !== 0) return undefined;
    return nonEmpty(Buffer.from(m[1]!, 'base64'));
  }
  let pem: string;
  try {
    pem = decodeURIComponent(value);
  } catch {
    return undefined;
  }
  const m = /^\s*-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m) return undefined;
  const base64 = m[1]!.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) return undefined;
  return nonEmpty(Buffer.from(base64, 'base64'));
}

function nonEmpty(der: Buffer): Buffer | undefined {
  return der.length > 0 ? der : undefined;
}

/** RFC 8705 §3.1: `x5t#S256`, base64url of the SHA-256 of the certificate's DER. */
export function certificateThumbprint(der: Buffer): string {
  return crypto.createHash('sha256').update(der).digest('base64url');
}

/** Addresses and CIDRs (`10.0.0.5`, `10.1.0.0/16`, `::1`): whose headers are believed. */
export function addressMatcher(addresses: readonly string[]): (address: string | undefined) => boolean {
  const list = new net.BlockList();
  for (const entry of addresses) {
    const [ip, bits] = entry.split('/');
    const family = net.isIP(ip ?? '');
    if (family === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
      throw new TypeError(`"${entry.slice(0, 60)}" is not an address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(ip!, type);
    else list.addSubnet(ip!, Number(bits), type);
  }
  return (address) => {
    if (!address) return false;
    // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
    const plain = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
    const family = net.isIP(plain);
    return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  };
}
