import crypto, { type KeyObject } from 'node:crypto';
import { attributeValues, canonicalIp, OID, parseCertificate, type ParsedCertificate } from './certificate.js';
import { DerError } from './der.js';
import { dnMatches, DnSyntaxError, parseDn } from './distinguished-name.js';
import { MAX_PRESENTED, type TrustStore, validateChain } from './trust-store.js';

/**
 * What a client certificate proves about a client: its OIN, its RFC 8705 §2.1.2 subject
 * identifier, or that it is one of the client's registered keys.
 *
 * The OIN (Organisatie-identificatienummer) is 20 positions: an 8-digit prefix naming the register
 * the organisation's number comes from (00000001 RSIN and 00000003 KvK number from the trade
 * register, 00000002 fiscal number, 00000004 sub-OIN register, 00000006 numbers Logius hands out),
 * then that number (8 or 9 positions) and a suffix of zeros (0000 or 000) to fill 20. It is 20
 * long because PKIoverheid puts it in the certificate's subject `serialNumber` attribute
 * (2.5.4.5, not the certificate's own serial number), which is where Digikoppeling, FSC and the
 * NL GOV profile read an organisation's identity from.
 */

export const OIN_PATTERN = /^\d{20}$/;

export type TlsSubjectField = 'subject_dn' | 'san_dns' | 'san_uri' | 'san_ip' | 'san_email';
export interface TlsSubject {
  field: TlsSubjectField;
  value: string;
}

/** The OIN the certificate's subject carries in serialNumber, when exactly one 20-digit value is there. */
export function oinOf(cert: ParsedCertificate): string | null {
  const oins = attributeValues(cert.subject, OID.serialNumber).filter((v) => OIN_PATTERN.test(v));
  return oins.length === 1 ? oins[0]! : null;
}

/** Whether the certificate is one of the organisation with this OIN. */
export function carriesOin(cert: ParsedCertificate, oin: string): boolean {
  return oinOf(cert) === oin;
}

/**
 * RFC 8705 §2.1.2: the certificate carries the registered subject identifier. The subject DN
 * compares by structure (see distinguished-name.ts); a dNSName case-insensitively; a URI as
 * written; an address in canonical form; an e-mail address with its domain case-insensitively.
 */
export function matchesSubject(cert: ParsedCertificate, subject: TlsSubject): boolean {
  switch (subject.field) {
    case 'subject_dn': {
      try {
        return dnMatches(parseDn(subject.value), cert.subject);
      } catch (err) {
        if (err instanceof DnSyntaxError) return false;
        throw err;
      }
    }
    case 'san_dns': {
      const want = subject.value.toLowerCase();
      return cert.san.dns.some((d) => d.toLowerCase() === want);
    }
    case 'san_uri':
      return cert.san.uri.includes(subject.value);
    case 'san_ip': {
      const want = canonicalIp(subject.value);
      return want !== undefined && cert.san.ip.includes(want);
    }
    case 'san_email': {
      const want = mailbox(subject.value);
      return cert.san.email.some((e) => mailbox(e) === want);
    }
  }
}

function mailbox(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(0, at + 1) + address.slice(at + 1).toLowerCase();
}

/** Whether the certificate holds the same public key as `key`. */
export function holdsKey(cert: ParsedCertificate, key: KeyObject): boolean {
  return cert.x509.publicKey.equals(key);
}

export type CertificateCheck =
  | { ok: true; notAfter: number; oin: string | null }
  | { ok: false; reason: 'untrusted_chain' | 'certificate_mismatch'; detail: string };

/**
 * The `x5c` chain of a registered key (RFC 7517 §4.7: standard base64 DER, leaf first): its leaf
 * must hold the key itself; with trust anchors the chain must validate to one (for signatures:
 * digitalSignature where key usage is given); a client with an OIN needs a certificate carrying it,
 * which only a validated chain can show: without anchors an OIN is never proven.
 */
export function checkKeyCertificate(
  x5c: readonly string[],
  jwk: crypto.JsonWebKey,
  options: { trust: TrustStore | undefined; now: number; oin: string | null },
): CertificateCheck {
  if (x5c.length === 0 || x5c.length > MAX_PRESENTED + 1)
    return { ok: false, reason: 'untrusted_chain', detail: 'x5c must hold 1 to 5 certificates' };
  let chain: ParsedCertificate[];
  try {
    chain = x5c.map((b64) => {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new DerError('x5c entries are base64 DER');
      return parseCertificate(Buffer.from(b64, 'base64'));
    });
  } catch (err) {
    return { ok: false, reason: 'untrusted_chain', detail: err instanceof DerError ? err.message : 'unreadable x5c' };
  }
  const leaf = chain[0]!;
  let key: KeyObject;
  try {
    key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    return { ok: false, reason: 'certificate_mismatch', detail: 'the key is no public JWK' };
  }
  if (!holdsKey(leaf, key))
    return { ok: false, reason: 'certificate_mismatch', detail: "x5c's first certificate holds another key" };
  if (options.trust) {
    const verdict = validateChain(options.trust, leaf, chain.slice(1), { now: options.now, purpose: 'signature' });
    if (!verdict.ok) return { ok: false, reason: 'untrusted_chain', detail: verdict.detail };
  } else if (options.oin !== null) {
    return { ok: false, reason: 'untrusted_chain', detail: 'no trust anchors configured to prove the OIN' };
  }
  if (options.oin !== null && !carriesOin(leaf, options.oin))
    return { ok: false, reason: 'certificate_mismatch', detail: "the certificate does not carry the client's OIN" };
  return { ok: true, notAfter: leaf.notAfter, oin: oinOf(leaf) };
}
