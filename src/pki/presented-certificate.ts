import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { DerError } from './der.js';
import { MAX_PRESENTED } from './trust-store.js';

/**
 * A client certificate as presented on a TLS connection or by a trusted proxy: the leaf and
 * whatever chain came with it (bounded), parsed. A presentation that could not be read is kept as
 * the reason, so that the one authentication path refuses it and audits why.
 */
export type PresentedCertificate =
  | { ok: true; leaf: ParsedCertificate; chain: ParsedCertificate[]; source: CertificateSource }
  | { ok: false; detail: string; source: CertificateSource };

export type CertificateSource = 'tls' | 'header';

/** The certificates as DER, leaf first. */
export function presentedCertificate(ders: readonly Buffer[], source: CertificateSource): PresentedCertificate {
  if (ders.length === 0) return { ok: false, detail: 'no certificate', source };
  if (ders.length > MAX_PRESENTED + 1) return { ok: false, detail: 'too many chain certificates', source };
  try {
    const [leaf, ...chain] = ders.map(parseCertificate);
    return { ok: true, leaf: leaf!, chain, source };
  } catch (err) {
    return {
      ok: false,
      detail: err instanceof DerError ? `unreadable certificate: ${err.message}` : 'unreadable certificate',
      source,
    };
  }
}
