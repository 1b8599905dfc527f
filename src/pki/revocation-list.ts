import crypto, { type X509Certificate } from 'node:crypto';
import { boolean, children, DerError, type DerNode, expect, integerHex, oid, readWhole, TAG, time } from './der.js';

/**
 * A certificate revocation list (RFC 5280 §5), parsed in-process: node:crypto has no CRL parser.
 * Only what the chain check needs: who issued it, when it is current, the revoked serials, and the
 * signed bytes with their signature, checked against the issuing CA's key where the list is used.
 */
export interface RevocationList {
  issuerDer: Buffer;
  thisUpdate: number;
  nextUpdate: number | null;
  /** Revoked serial numbers, lower-case hex without leading zeros. */
  revoked: Set<string>;
  signedBytes: Buffer;
  signature: Buffer;
  /** node:crypto's digest name for crypto.verify; null for Ed25519. */
  digest: string | null;
  /** SHA-256 fingerprints of issuer certificates whose key verified the signature already. */
  verifiedBy: Set<string>;
}

/** Signature algorithms of CRLs: node's digest name per OID (RSA PKCS#1 v1.5, ECDSA, Ed25519). */
const SIGNATURE_DIGESTS: Record<string, string | null> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
};

/** Extensions of a CRL that change what it means: a delta CRL or an indirect one is not read as a full list. */
const REFUSED_EXTENSIONS = new Set(['2.5.29.27' /* deltaCRLIndicator */]);
const REFUSED_ENTRY_EXTENSIONS = new Set(['2.5.29.29' /* certificateIssuer: indirect CRL */]);

/** A CRL as DER, or as PEM (`-----BEGIN X509 CRL-----`). */
export function parseRevocationList(input: Buffer): RevocationList {
  const text = input.subarray(0, 64).toString('latin1');
  let der = input;
  if (text.includes('-----BEGIN')) {
    const m = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+?)-----END X509 CRL-----/.exec(input.toString('latin1'));
    if (!m) throw new DerError('no X509 CRL block in the PEM file');
    der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  }
  const [tbs, algorithm, signatureBits, extra] = children(expect(readWhole(der), TAG.SEQUENCE, 'CRL'));
  if (extra) throw new DerError('CRL: unexpected element');
  const fields = children(expect(tbs, TAG.SEQUENCE, 'tbsCertList'));
  let i = 0;
  if (fields[i]?.tag === TAG.INTEGER) i++; // version
  const innerAlgorithm = expect(fields[i++], TAG.SEQUENCE, 'CRL signature algorithm');
  if (!innerAlgorithm.raw.equals(expect(algorithm, TAG.SEQUENCE, 'CRL algorithm').raw))
    throw new DerError('CRL: the two signature algorithms differ');
  const algorithmId = oid(children(innerAlgorithm)[0]!);
  if (!(algorithmId in SIGNATURE_DIGESTS)) throw new DerError(`CRL: signature algorithm ${algorithmId} not supported`);
  const issuer = expect(fields[i++], TAG.SEQUENCE, 'CRL issuer');
  const thisUpdate = time(fields[i++]!);
  let nextUpdate: number | null = null;
  if (fields[i]?.tag === TAG.UTC_TIME || fields[i]?.tag === TAG.GENERALIZED_TIME) nextUpdate = time(fields[i++]!);
  const revoked = new Set<string>();
  if (fields[i]?.tag === TAG.SEQUENCE) {
    for (const entry of children(fields[i++]!)) {
      const parts = children(expect(entry, TAG.SEQUENCE, 'CRL entry'));
      revoked.add(integerHex(parts[0]!));
      if (parts[2]) checkExtensions(parts[2], REFUSED_ENTRY_EXTENSIONS);
    }
  }
  if (fields[i]?.tag === 0xa0) checkExtensions(children(fields[i++]!)[0]!, REFUSED_EXTENSIONS);
  if (i !== fields.length) throw new DerError('CRL: unexpected element');
  const bits = expect(signatureBits, TAG.BIT_STRING, 'CRL signature');
  if (bits.value[0] !== 0) throw new DerError('CRL signature: unused bits');
  return {
    issuerDer: issuer.raw,
    thisUpdate,
    nextUpdate,
    revoked,
    signedBytes: tbs!.raw,
    signature: bits.value.subarray(1),
    digest: SIGNATURE_DIGESTS[algorithmId]!,
    verifiedBy: new Set(),
  };
}

function checkExtensions(extensions: DerNode, refused: Set<string>): void {
  for (const ext of children(expect(extensions, TAG.SEQUENCE, 'CRL extensions'))) {
    const parts = children(expect(ext, TAG.SEQUENCE, 'CRL extension'));
    const id = oid(parts[0]!);
    if (parts.length === 3) boolean(parts[1]!);
    if (refused.has(id)) throw new DerError(`CRL: extension ${id} (delta or indirect CRL) is not supported`);
  }
}

/** Whether the list was signed with the key of `issuer`; remembered per issuer certificate. */
export function signedBy(list: RevocationList, issuer: X509Certificate): boolean {
  const fingerprint = issuer.fingerprint256;
  if (list.verifiedBy.has(fingerprint)) return true;
  let ok: boolean;
  try {
    ok = crypto.verify(list.digest, list.signedBytes, issuer.publicKey, list.signature);
  } catch {
    ok = false;
  }
  if (ok && list.verifiedBy.size < 16) list.verifiedBy.add(fingerprint);
  return ok;
}
