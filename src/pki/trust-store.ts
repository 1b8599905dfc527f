import { BoundedCache } from '@zgw-auth/verifier/internal';
import { ValidationError } from '../errors.js';
import { OID, parseCertificate, pemCertificates, type ParsedCertificate } from './certificate.js';
import { DerError } from './der.js';
import { parseRevocationList, type RevocationList, signedBy } from './revocation-list.js';

/**
 * The certificates a client certificate may chain to, from the operator's PEM bundle: every
 * self-signed CA certificate in it is a trust anchor (for PKIoverheid: the Staat der Nederlanden
 * roots); the other CA certificates in it are intermediates to build chains with when a client
 * (or a proxy, which passes only the leaf) does not send them. An intermediate in the bundle is
 * no anchor: its chain must still lead to an anchor in the bundle.
 */
export interface TrustStore {
  anchors: ParsedCertificate[];
  intermediates: ParsedCertificate[];
  revocationLists: RevocationList[];
  /** Chains that validated, by their certificates, while every part of the verdict holds (see validateChain). */
  verdicts: BoundedCache<string, CachedVerdict>;
}

interface CachedVerdict {
  path: ParsedCertificate[];
  /** The verdict holds from `from` to `until` (validity of every certificate, CRLs' nextUpdate), and at most VERDICT_MS after `at`. */
  from: number;
  until: number;
  at: number;
}

/** How long a validated chain is not validated again; a changed CRL (replaceRevocationLists) drops every verdict at once. */
const VERDICT_MS = 300_000;
const VERDICTS_MAX = 1000;

/** Most certificates a chain may have, the anchor included: PKIoverheid's are 3 or 4 long. */
export const MAX_CHAIN_LENGTH = 5;
/** Most certificates a caller may present with its own (TLS chain, x5c). */
export const MAX_PRESENTED = MAX_CHAIN_LENGTH - 1;

/** When a CRL is read: the clock, and how far (ms) its thisUpdate may lie ahead of it. */
export interface CrlClock {
  now: number;
  leewayMs: number;
}

/** A trust store from the bundle's text and CRL files (DER or PEM); refuses what cannot serve. */
export function trustStoreFrom(
  pem: string,
  revocationLists: { name: string; bytes: Buffer }[] = [],
  clock: CrlClock = { now: Date.now(), leewayMs: 0 },
): TrustStore {
  const store: TrustStore = {
    anchors: [],
    intermediates: [],
    revocationLists: [],
    verdicts: new BoundedCache(VERDICTS_MAX),
  };
  const ders = pemCertificates(pem);
  if (ders.length === 0) throw new ValidationError('the client CA bundle holds no PEM certificate');
  ders.forEach((der, k) => {
    let cert: ParsedCertificate;
    try {
      cert = parseCertificate(der);
    } catch (err) {
      throw new ValidationError(`client CA bundle, certificate ${k + 1}: ${(err as Error).message}`);
    }
    if (!cert.ca) throw new ValidationError(`client CA bundle, certificate ${k + 1} is no CA certificate`);
    const selfSigned = cert.subjectDer.equals(cert.issuerDer) && cert.x509.verify(cert.x509.publicKey);
    (selfSigned ? store.anchors : store.intermediates).push(cert);
  });
  if (store.anchors.length === 0)
    throw new ValidationError('the client CA bundle holds no self-signed root certificate to anchor chains');
  for (const { name, bytes } of revocationLists)
    store.revocationLists.push(revocationListFor(store, name, bytes, clock));
  return store;
}

/**
 * A CRL file's bytes as a list the store can use, or a ValidationError naming the file: it must
 * parse, a list of a CA in the bundle must be signed by it (a list no CA of the bundle signed is a
 * mistake worth refusing; a list of a CA below the bundle is checked against that CA in each chain,
 * see revocation), and its thisUpdate may not lie ahead of the clock by more than the leeway: a
 * list dated in the future would stand as the newest one and lock out every honest list after it.
 */
export function revocationListFor(store: TrustStore, name: string, bytes: Buffer, clock: CrlClock): RevocationList {
  let list: RevocationList;
  try {
    list = parseRevocationList(bytes);
  } catch (err) {
    throw new ValidationError(`CRL ${name}: ${err instanceof DerError ? err.message : 'unreadable'}`);
  }
  const issuers = [...store.anchors, ...store.intermediates].filter((c) => c.subjectDer.equals(list.issuerDer));
  if (issuers.length > 0 && !issuers.some((c) => signedBy(list, c.x509)))
    throw new ValidationError(`CRL ${name} is not signed by the CA it names`);
  // crl-future-dated
  if (list.thisUpdate > clock.now + clock.leewayMs)
    throw new ValidationError(
      `CRL ${name} is dated in the future (thisUpdate ${new Date(list.thisUpdate).toISOString()})`,
    );
  return list;
}

/**
 * Puts `lists` in place of the store's CRLs (a CRL file changed). Verdicts cached under the old
 * lists are forgotten: a certificate revoked by the new list is refused at its next use.
 */
export function replaceRevocationLists(store: TrustStore, lists: RevocationList[]): void {
  store.revocationLists = lists;
  store.verdicts = new BoundedCache(VERDICTS_MAX);
}

export type ChainPurpose = 'tls_client' | 'signature';

export type ChainVerdict = { ok: true; path: ParsedCertificate[] } | { ok: false; detail: string };

/**
 * RFC 5280 §6 path validation, the parts a client certificate needs: each certificate signed by
 * the next (names and signature), every one valid at `now`, issuers CA certificates with
 * keyCertSign where key usage is given and within their path length, the last an anchor of the
 * store; the leaf no CA, with digitalSignature where key usage is given and, for TLS client
 * authentication, clientAuth where extended key usage is given; no certificate revoked by a CRL
 * of its issuer in the store, every such CRL current. `presented` are the caller's other
 * certificates (bounded); the store's intermediates fill in the rest.
 */
export function validateChain(
  store: TrustStore,
  leaf: ParsedCertificate,
  presented: readonly ParsedCertificate[],
  options: { now: number; purpose: ChainPurpose },
): ChainVerdict {
  const { now } = options;
  if (presented.length > MAX_PRESENTED) return fail(`more than ${MAX_PRESENTED} chain certificates`);
  // The same certificates validated a moment ago: the verdict stands while nothing it rests on changed.
  const key = `${options.purpose} ${[leaf, ...presented].map((c) => c.x509.fingerprint256).join(' ')}`;
  const cached = store.verdicts.get(key);
  if (cached && now >= cached.from && now <= cached.until && now - cached.at < VERDICT_MS && now >= cached.at)
    return { ok: true, path: cached.path };
  const verdict = checkChain(store, leaf, presented, options);
  if (verdict.ok) {
    const nextUpdates = store.revocationLists.flatMap((l) => (l.nextUpdate === null ? [] : [l.nextUpdate]));
    store.verdicts.set(key, {
      path: verdict.path,
      from: Math.max(...verdict.path.map((c) => c.notBefore)),
      until: Math.min(...verdict.path.map((c) => c.notAfter), ...nextUpdates),
      at: now,
    });
  }
  return verdict;
}

function checkChain(
  store: TrustStore,
  leaf: ParsedCertificate,
  presented: readonly ParsedCertificate[],
  options: { now: number; purpose: ChainPurpose },
): ChainVerdict {
  const { now } = options;
  if (leaf.ca) return fail('a CA certificate is no client certificate');
  if (leaf.keyUsage && !leaf.keyUsage.has('digitalSignature')) return fail('key usage lacks digitalSignature');
  if (
    options.purpose === 'tls_client' &&
    leaf.extKeyUsage &&
    !leaf.extKeyUsage.includes(OID.clientAuth) &&
    !leaf.extKeyUsage.includes(OID.anyExtendedKeyUsage)
  )
    return fail('extended key usage lacks clientAuth');

  const path: ParsedCertificate[] = [leaf];
  for (;;) {
    const current = path[path.length - 1]!;
    const anchor = store.anchors.find((a) => issues(a, current));
    if (anchor) {
      path.push(anchor);
      break;
    }
    if (path.length >= MAX_CHAIN_LENGTH - 1) return fail('no trusted root within the chain length limit');
    const next = [...presented, ...store.intermediates].find((c) => !path.includes(c) && issues(c, current));
    if (!next) return fail('chain does not lead to a trusted root');
    path.push(next);
  }

  for (let k = 0; k < path.length; k++) {
    const cert = path[k]!;
    if (now < cert.notBefore) return fail(`${k === 0 ? 'certificate' : `chain certificate ${k}`} not yet valid`);
    if (now > cert.notAfter) return fail(`${k === 0 ? 'certificate' : `chain certificate ${k}`} expired`);
    if (cert.unknownCritical.length) return fail(`unsupported critical extension ${cert.unknownCritical[0]}`);
    if (k === 0) continue;
    if (!cert.ca) return fail(`chain certificate ${k} is no CA certificate`);
    if (cert.keyUsage && !cert.keyUsage.has('keyCertSign'))
      return fail(`chain certificate ${k} may not sign certificates`);
    // Intermediates below this one, the leaf not counted (RFC 5280 §4.2.1.9).
    if (cert.pathLen !== null && k - 1 > cert.pathLen) return fail(`chain certificate ${k} exceeds its path length`);
  }

  for (let k = 0; k < path.length - 1; k++) {
    const verdict = revocation(store, path[k]!, path[k + 1]!, now);
    if (verdict) return fail(k === 0 ? verdict : `chain certificate ${k}: ${verdict}`);
  }
  return { ok: true, path };
}

/** Whether `issuer` issued `cert`: the names match and its key verifies the signature. */
function issues(issuer: ParsedCertificate, cert: ParsedCertificate): boolean {
  return (
    issuer.subjectDer.equals(cert.issuerDer) &&
    cert.x509.checkIssued(issuer.x509) &&
    cert.x509.verify(issuer.x509.publicKey)
  );
}

/** Why `cert` counts as revoked, or undefined. Fails closed when the issuer's CRL is outdated or not its. */
function revocation(store: TrustStore, cert: ParsedCertificate, issuer: ParsedCertificate, now: number) {
  const lists = store.revocationLists.filter((l) => l.issuerDer.equals(issuer.subjectDer));
  if (lists.length === 0) return undefined;
  const signed = lists.filter((l) => signedBy(l, issuer.x509));
  if (signed.length === 0) return 'the CRL of its issuer is not signed by that issuer';
  if (signed.some((l) => l.revoked.has(cert.serial))) return 'certificate revoked';
  if (!signed.some((l) => l.thisUpdate <= now && (l.nextUpdate === null || now <= l.nextUpdate)))
    return 'the CRL of its issuer is outdated';
  return undefined;
}

function fail(detail: string): ChainVerdict {
  return { ok: false, detail };
}
