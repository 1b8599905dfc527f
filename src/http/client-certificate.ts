import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { BoundedCache } from '@zgw-auth/verifier/internal';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { pemCertificates } from '../pki/certificate.js';
import { type PresentedCertificate, presentedCertificate } from '../pki/presented-certificate.js';

/**
 * Bound on a certificate header's value: a PKIoverheid certificate is 1.5–2.5 KiB as DER, some 4.5
 * KiB as nginx's URL-escaped PEM; an RSA-4096 certificate with long policies fits as well.
 */
export const MAX_CERTIFICATE_HEADER = 8 * 1024;
/** Bound on RFC 9440's Client-Cert-Chain: four more certificates. */
export const MAX_CHAIN_HEADER = 4 * MAX_CERTIFICATE_HEADER;

/** Chains of certificates seen in full handshakes, for their resumed sessions: a few MB at most. */
const SESSION_CHAINS = 1000;

export type CertificateReader = (request: FastifyRequest) => PresentedCertificate | undefined;

/**
 * The client certificate of a request, read only when a request authenticates with one: from a
 * trusted proxy's header when ZGW_AUTH_CLIENT_CERT_HEADER is set and the request carries it, else
 * from this server's own TLS connection. A certificate header from an address that is no trusted
 * proxy is a refusal (the caller wrote it itself), not a certificate.
 */
export function certificateReader(config: Pick<Config, 'clientCertHeader' | 'trustProxy'>): CertificateReader {
  const header = config.clientCertHeader;
  const chainHeader = header ? `${header}-chain` : undefined;
  const trusted = trustedPeer(config.trustProxy);
  const perSocket = new WeakMap<TLSSocket, PresentedCertificate | undefined>();
  const chains = new BoundedCache<string, Buffer[]>(SESSION_CHAINS);
  return (request) => {
    const sent = header ? request.headers[header] : undefined;
    if (header && sent !== undefined && sent !== '') {
      if (!trusted(request.socket.remoteAddress ?? ''))
        return refused('a certificate header from an address that is no trusted proxy');
      return fromHeader(sent, chainHeader ? request.headers[chainHeader] : undefined);
    }
    const socket = request.socket as Partial<TLSSocket>;
    if (!socket.encrypted || typeof socket.getPeerCertificate !== 'function') return undefined;
    const tls = socket as TLSSocket;
    // A keep-alive connection presents one certificate for all its requests: read it once.
    if (!perSocket.has(tls)) perSocket.set(tls, fromSocket(tls, chains));
    return perSocket.get(tls);
  };
}

function refused(detail: string): PresentedCertificate {
  return { ok: false, detail, source: 'header' };
}

/**
 * The peer's certificate and the chain it sent (or OpenSSL built), leaf first, bounded. A resumed
 * TLS session brings the leaf only (OpenSSL keeps no chain in a session): its chain is the one the
 * same certificate came with in a full handshake of this process, remembered in `chains`.
 */
function fromSocket(socket: TLSSocket, chains: BoundedCache<string, Buffer[]>): PresentedCertificate | undefined {
  const peer = socket.getPeerCertificate(true);
  if (!peer || !peer.raw) return undefined;
  const ders: Buffer[] = [];
  const seen = new Set<string>();
  for (let c = peer; c?.raw && !seen.has(c.fingerprint256) && ders.length < 6; c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    ders.push(c.raw);
  }
  if (ders.length > 1) chains.set(peer.fingerprint256, ders.slice(1, 5));
  else if (socket.isSessionReused()) ders.push(...(chains.get(peer.fingerprint256) ?? []));
  return presentedCertificate(ders.slice(0, 5), 'tls');
}

/**
 * RFC 9440 `Client-Cert` (a Structured Field byte sequence, `:base64 DER:`) with an optional
 * `Client-Cert-Chain` (a list of them), or nginx's `$ssl_client_escaped_cert` (URL-escaped PEM).
 */
function fromHeader(value: string | string[], chain: string | string[] | undefined): PresentedCertificate {
  if (Array.isArray(value) || Array.isArray(chain)) return refused('certificate header repeated');
  if (value.length > MAX_CERTIFICATE_HEADER || (chain?.length ?? 0) > MAX_CHAIN_HEADER)
    return refused('certificate header too large');
  const v = value.trim();
  const byteSequence = /^:([A-Za-z0-9+/]+={0,2}):$/;
  if (v.startsWith(':')) {
    const m = byteSequence.exec(v);
    if (!m) return refused('certificate header is no RFC 9440 byte sequence');
    const ders = [Buffer.from(m[1]!, 'base64')];
    for (const item of chain?.split(',') ?? []) {
      const c = byteSequence.exec(item.trim());
      if (!c) return refused('certificate chain header is no RFC 9440 list of byte sequences');
      ders.push(Buffer.from(c[1]!, 'base64'));
    }
    return presentedCertificate(ders, 'header');
  }
  if (/^-----BEGIN(%20| )CERTIFICATE-----/.test(v)) {
    let pem: string;
    try {
      pem = decodeURIComponent(v);
    } catch {
      return refused('certificate header is not URL-escaped PEM');
    }
    const ders = pemCertificates(pem);
    if (ders.length !== 1) return refused('certificate header holds no single PEM certificate');
    return presentedCertificate(ders, 'header');
  }
  return refused('certificate header in no known form (RFC 9440 byte sequence or URL-escaped PEM)');
}

/** Whether the connection's peer is a proxy of ZGW_AUTH_TRUST_PROXY. A hop count trusts every peer (see there). */
function trustedPeer(setting: false | number | string[]): (address: string) => boolean {
  if (setting === false) return () => false;
  if (typeof setting === 'number') return () => true;
  const list = new net.BlockList();
  for (const entry of setting) {
    const [ip, bits] = entry.split('/') as [string, string | undefined];
    const family = net.isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, family);
    else list.addSubnet(ip, Number(bits), family);
  }
  return (address) => {
    const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    return net.isIP(plain) !== 0 && list.check(plain, net.isIPv6(plain) ? 'ipv6' : 'ipv4');
  };
}
