import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parseCertificate, pemCertificates, type ParsedCertificate } from '../src/pki/certificate.js';
import { checkKeyCertificate, matchesSubject, oinOf } from '../src/pki/client-certificate.js';
import { DerError } from '../src/pki/der.js';
import { dnMatches, formatDn, parseDn } from '../src/pki/distinguished-name.js';
import { parseRevocationList } from '../src/pki/revocation-list.js';
import { trustStoreFrom, type TrustStore, validateChain } from '../src/pki/trust-store.js';
import { type CertificateName, makeTestPki, OIN, OTHER_OIN, type TestPki } from './pki/test-pki.js';

const DAY = 86_400_000;

describe('client certificate chains (src/pki) against a PKIoverheid-shaped test PKI', () => {
  let pki: TestPki;
  let anchors: TrustStore;
  let bundle: TrustStore;
  const chainOf = (name: CertificateName): ParsedCertificate[] =>
    pemCertificates(pki.certs[name].chainPem).map(parseCertificate);
  const verdict = (store: TrustStore, name: CertificateName, now = Date.now(), presented = true) => {
    const [leaf, ...rest] = chainOf(name);
    const v = validateChain(store, leaf!, presented ? rest : [], { now, purpose: 'tls_client' });
    return v.ok ? 'ok' : v.detail;
  };
  before(() => {
    pki = makeTestPki();
    const crl = [{ name: 'tsp.crl', bytes: fs.readFileSync(pki.crlPath) }];
    anchors = trustStoreFrom(fs.readFileSync(pki.anchorsPath, 'utf8'), crl);
    bundle = trustStoreFrom(fs.readFileSync(pki.bundlePath, 'utf8'), crl);
  });
  after(() => pki.remove());

  it('accepts organisation certificates (EC and RSA) chained through both intermediates to the root', () => {
    assert.equal(verdict(anchors, 'client'), 'ok');
    assert.equal(verdict(anchors, 'clientRsa'), 'ok');
    const [leaf, ...rest] = chainOf('client');
    const v = validateChain(anchors, leaf!, rest, { now: Date.now(), purpose: 'tls_client' });
    assert.ok(v.ok);
    assert.deepEqual(
      v.path.map((c) => formatDn(c.subject).split(',')[0]),
      [
        'CN=zaaksysteem.testdorp.nl',
        'CN=Test TSP Private Services CA - G1',
        'CN=Test Staat der Nederlanden Private Services CA - G1',
        'CN=Test Staat der Nederlanden Private Root CA - G1',
      ],
    );
  });

  it('refuses each bad certificate with its reason', () => {
    assert.equal(verdict(anchors, 'expired'), 'certificate expired');
    assert.equal(verdict(anchors, 'notYetValid'), 'certificate not yet valid');
    assert.equal(verdict(anchors, 'revoked'), 'certificate revoked');
    assert.equal(verdict(anchors, 'otherRoot'), 'chain does not lead to a trusted root');
    assert.equal(verdict(anchors, 'selfSigned'), 'chain does not lead to a trusted root');
    assert.equal(verdict(anchors, 'caAsLeaf'), 'a CA certificate is no client certificate');
    assert.equal(verdict(anchors, 'noClientAuth'), 'extended key usage lacks clientAuth');
    assert.equal(verdict(anchors, 'noDigitalSignature'), 'key usage lacks digitalSignature');
    assert.equal(verdict(anchors, 'unknownCritical'), 'unsupported critical extension 1.3.6.1.4.1.99999.1');
    assert.equal(verdict(anchors, 'forgedIssuer'), 'chain does not lead to a trusted root');
    assert.equal(verdict(anchors, 'pathTooLong'), 'chain certificate 2 exceeds its path length');
    assert.equal(verdict(anchors, 'underNotCa'), 'chain certificate 1 is no CA certificate');
    // Another OIN is a valid certificate: which client it is decides (client-certificate.ts).
    assert.equal(verdict(anchors, 'wrongOin'), 'ok');
  });

  it('builds the chain from the bundle when only the leaf is presented (a proxy passes only that), and not without', () => {
    assert.equal(verdict(bundle, 'client', Date.now(), false), 'ok');
    assert.equal(verdict(anchors, 'client', Date.now(), false), 'chain does not lead to a trusted root');
    assert.equal(bundle.anchors.length, 1);
    assert.equal(bundle.intermediates.length, 2);
  });

  it('checks the clock it is given: every certificate of the chain, and the CRL (outdated fails closed)', () => {
    assert.equal(verdict(anchors, 'client', Date.now() + 2 * 365 * DAY), 'certificate expired');
    // The CRL's nextUpdate is 7 days away: after it, no certificate of its issuer passes.
    assert.equal(verdict(anchors, 'client', Date.now() + 10 * DAY), 'the CRL of its issuer is outdated');
    // A chain validated a minute before the CRL's nextUpdate is not believed a minute after it.
    const nextUpdate = parseRevocationList(fs.readFileSync(pki.crlPath)).nextUpdate!;
    assert.equal(verdict(anchors, 'client', nextUpdate - 60_000), 'ok');
    assert.equal(verdict(anchors, 'client', nextUpdate + 60_000), 'the CRL of its issuer is outdated');
    const noCrl = trustStoreFrom(fs.readFileSync(pki.anchorsPath, 'utf8'));
    assert.equal(verdict(noCrl, 'client', Date.now() + 10 * DAY), 'ok');
    assert.equal(verdict(noCrl, 'revoked'), 'ok');
  });

  it('reads the CRL in-process: issuer, dates, revoked serials; a changed signature is refused at start', () => {
    const bytes = fs.readFileSync(pki.crlPath);
    const list = parseRevocationList(bytes);
    assert.equal(list.revoked.size, 1);
    assert.ok(list.revoked.has(parseCertificate(pki.certs.revoked.der).serial));
    assert.ok(list.nextUpdate! - list.thisUpdate > 6 * DAY);
    const der = Buffer.from(
      /-----BEGIN X509 CRL-----([^-]+)-----END/.exec(bytes.toString())![1]!.replace(/\s/g, ''),
      'base64',
    );
    assert.equal(parseRevocationList(der).revoked.size, 1, 'DER as well as PEM');
    const tampered = Buffer.from(der);
    tampered[tampered.length - 5]! ^= 1;
    assert.throws(
      () => trustStoreFrom(pki.rootPem + pki.domainCaPem + pki.tspCaPem, [{ name: 'bad.crl', bytes: tampered }]),
      /CRL bad.crl is not signed by the CA it names/,
    );
    // Not in the bundle, the TSP CA signs its CRL as the chain is checked: a forged list is then refused there.
    const forged = trustStoreFrom(pki.rootPem, [{ name: 'bad.crl', bytes: tampered }]);
    assert.equal(verdict(forged, 'client'), 'the CRL of its issuer is not signed by that issuer');
    assert.throws(() => parseRevocationList(Buffer.from('garbage')), DerError);
  });

  it('refuses at start a CRL dated in the future beyond the clock leeway, naming the file', () => {
    const to = `${pki.dir}/future.crl`;
    const future = pki.writeCrl({ lastUpdate: Date.now() + 10 * 60_000, nextUpdate: Date.now() + 7 * DAY, to });
    const files = [{ name: 'future.crl', bytes: future }];
    assert.throws(
      () => trustStoreFrom(fs.readFileSync(pki.bundlePath, 'utf8'), files, { now: Date.now(), leewayMs: 30_000 }),
      /CRL future\.crl is dated in the future/,
    );
    // Within the leeway (a CA clock a little ahead) the list serves.
    const store = trustStoreFrom(fs.readFileSync(pki.bundlePath, 'utf8'), files, {
      now: Date.now(),
      leewayMs: 20 * 60_000,
    });
    assert.equal(store.revocationLists.length, 1);
  });

  it('refuses bundles without an anchor, with leaves or garbage, naming the certificate', () => {
    assert.throws(() => trustStoreFrom(''), /holds no PEM certificate/);
    assert.throws(() => trustStoreFrom(pki.tspCaPem), /no self-signed root/);
    assert.throws(() => trustStoreFrom(pki.rootPem + pki.certs.client.certPem), /certificate 2 is no CA certificate/);
    assert.throws(
      () => trustStoreFrom('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'),
      /certificate 1: not an X.509 certificate/,
    );
  });

  it('bounds the chain: at most 4 presented certificates, and no loops', () => {
    const [leaf, ...rest] = chainOf('client');
    const many = [...rest, ...rest, ...rest];
    const v = validateChain(anchors, leaf!, many, { now: Date.now(), purpose: 'tls_client' });
    assert.deepEqual(v, { ok: false, detail: 'more than 4 chain certificates' });
  });

  it('reads the OIN from the subject serialNumber, and matches RFC 8705 subject identifiers', () => {
    const client = parseCertificate(pki.certs.client.der);
    const rsa = parseCertificate(pki.certs.clientRsa.der);
    assert.equal(oinOf(client), OIN);
    assert.equal(oinOf(rsa), OTHER_OIN);
    assert.equal(oinOf(parseCertificate(pki.certs.server.der)), null);
    const yes = (c: ParsedCertificate, field: Parameters<typeof matchesSubject>[1]['field'], value: string) =>
      matchesSubject(c, { field, value });
    assert.ok(yes(client, 'subject_dn', pki.subjectDn.client));
    // Spaces around separators, other case, names as OpenSSL prints them, the OID form, #hex of the encoding.
    assert.ok(
      yes(client, 'subject_dn', `cn = ZAAKSYSTEEM.testdorp.nl, SERIALNUMBER=${OIN}, o=Gemeente  Testdorp, 2.5.4.6=NL`),
    );
    assert.ok(
      yes(client, 'subject_dn', `CN=zaaksysteem.testdorp.nl,serialNumber=${OIN},O=Gemeente Testdorp,C=#13024e4c`),
    );
    assert.ok(!yes(client, 'subject_dn', `CN=zaaksysteem.testdorp.nl,serialNumber=${OIN},O=Gemeente Testdorp`));
    assert.ok(!yes(client, 'subject_dn', `C=NL,O=Gemeente Testdorp,serialNumber=${OIN},CN=zaaksysteem.testdorp.nl`));
    assert.ok(!yes(client, 'subject_dn', 'CN=zaaksysteem.testdorp.nl,serialNumber=1,O=Gemeente Testdorp,C=NL'));
    assert.ok(!yes(client, 'subject_dn', 'not a DN'));
    // Commas and quotes escaped in the organisation name: compared as the value, not as separators.
    assert.ok(yes(rsa, 'subject_dn', pki.subjectDn.clientRsa));
    assert.ok(!yes(rsa, 'subject_dn', pki.subjectDn.clientRsa.replace('\\,', ',')));
    assert.equal(formatDn(rsa.subject), pki.subjectDn.clientRsa);
    assert.ok(dnMatches(parseDn(formatDn(rsa.subject)), rsa.subject));
    // An empty name (a blank registration) never matches, not even a certificate without a subject.
    assert.ok(!dnMatches(parseDn(' '), []));
    assert.ok(yes(client, 'san_dns', 'ZaakSysteem.testdorp.nl'));
    assert.ok(!yes(client, 'san_dns', 'testdorp.nl'));
    assert.ok(yes(client, 'san_uri', 'https://zaaksysteem.testdorp.nl/oauth'));
    assert.ok(!yes(client, 'san_uri', 'https://zaaksysteem.testdorp.nl/OAUTH'));
    assert.ok(yes(client, 'san_ip', '192.0.2.10'));
    assert.ok(!yes(client, 'san_ip', '192.0.2.1'));
    assert.ok(yes(client, 'san_email', 'beheer@testdorp.nl'));
    assert.ok(!yes(client, 'san_email', 'Beheer@testdorp.nl'));
  });

  it("checks a registered key's x5c: the key itself, the chain to an anchor, the OIN", () => {
    const c = pki.certs.client;
    const now = Date.now();
    assert.deepEqual(checkKeyCertificate(c.x5c, c.jwk, { trust: anchors, now, oin: OIN }), {
      ok: true,
      notAfter: parseCertificate(c.der).notAfter,
      oin: OIN,
    });
    const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const reason = (r: ReturnType<typeof checkKeyCertificate>) => (r.ok ? 'ok' : `${r.reason}: ${r.detail}`);
    assert.match(
      reason(checkKeyCertificate(c.x5c, other, { trust: anchors, now, oin: null })),
      /^certificate_mismatch: .*another key/,
    );
    assert.match(
      reason(checkKeyCertificate(c.x5c, c.jwk, { trust: anchors, now, oin: OTHER_OIN })),
      /^certificate_mismatch: .*OIN/,
    );
    const ex = pki.certs.expired;
    assert.equal(
      reason(checkKeyCertificate(ex.x5c, ex.jwk, { trust: anchors, now, oin: OIN })),
      'untrusted_chain: certificate expired',
    );
    const rv = pki.certs.revoked;
    assert.equal(
      reason(checkKeyCertificate(rv.x5c, rv.jwk, { trust: anchors, now, oin: OIN })),
      'untrusted_chain: certificate revoked',
    );
    const elsewhere = pki.certs.otherRoot;
    assert.match(
      reason(checkKeyCertificate(elsewhere.x5c, elsewhere.jwk, { trust: anchors, now, oin: OIN })),
      /^untrusted_chain/,
    );
    // Without anchors a certificate proves no OIN; without an OIN the key match is all there is to check.
    assert.match(
      reason(checkKeyCertificate(c.x5c, c.jwk, { trust: undefined, now, oin: OIN })),
      /^untrusted_chain: no trust anchors/,
    );
    assert.equal(reason(checkKeyCertificate(elsewhere.x5c, elsewhere.jwk, { trust: undefined, now, oin: null })), 'ok');
    assert.match(
      reason(checkKeyCertificate(['***'], c.jwk, { trust: anchors, now, oin: null })),
      /^untrusted_chain: x5c entries/,
    );
    assert.match(reason(checkKeyCertificate([], c.jwk, { trust: anchors, now, oin: null })), /^untrusted_chain/);
    assert.match(reason(checkKeyCertificate(['AAAA'], c.jwk, { trust: anchors, now, oin: null })), /^untrusted_chain/);
  });
});
