import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { track } from '../resources.js';

/**
 * A test PKI shaped like PKIoverheid's "Private Services" hierarchy, made at test time with
 * Debian's openssl in a temporary folder (nothing downloaded, nothing committed):
 *
 *   Test Staat der Nederlanden Private Root CA - G1        (root, self-signed; the trust anchor)
 *   └─ Test Staat der Nederlanden Private Services CA - G1 (domain CA, pathlen 1)
 *      └─ Test TSP Private Services CA - G1                (the TSP's issuing CA, pathlen 0; publishes the CRL)
 *         └─ organisation certificates, server certificate for localhost
 *
 * Organisation certificates carry the OIN in the subject's serialNumber attribute (2.5.4.5) next to
 * O and CN, as PKIoverheid's do. An OIN is 20 digits: an 8-digit prefix naming the register
 * (00000001: RSIN, 00000003: KvK number, both from the trade register; 00000004: sub-OIN), then the
 * register's number and zeros to fill 20 (e.g. 00000001 + RSIN 001234567 + 000). Not the certificate's
 * serial number: the attribute of the subject name.
 *
 * Keys are EC P-256 (fast) except one RSA-2048 organisation certificate. Bad cases: expired, not
 * yet valid, revoked (in the TSP CA's CRL), another OIN, a chain to another root, a CA certificate
 * used as a client certificate, no clientAuth in extended key usage, no digitalSignature in key usage,
 * an unknown critical extension, a forged issuer (the TSP CA's name, another key), a CA below the
 * TSP CA's path length, a certificate issued by one that is no CA.
 */

export const OIN = '00000001001234567000';
export const OTHER_OIN = '00000003123456780000';

export interface Issued {
  certPath: string;
  keyPath: string;
  /** The certificate followed by its issuing CAs below the root, as a TLS client sends them. */
  chainPath: string;
  certPem: string;
  keyPem: string;
  chainPem: string;
  der: Buffer;
  /** RFC 7517 x5c: standard base64 DER, leaf first, intermediates after (root left out). */
  x5c: string[];
  /** The public key as a JWK. */
  jwk: crypto.JsonWebKey;
}

export type CertificateName =
  | 'client'
  | 'clientRsa'
  | 'expired'
  | 'notYetValid'
  | 'revoked'
  | 'wrongOin'
  | 'otherRoot'
  | 'caAsLeaf'
  | 'noClientAuth'
  | 'noDigitalSignature'
  | 'selfSigned'
  | 'server'
  | 'forgedIssuer'
  | 'pathTooLong'
  | 'underNotCa'
  | 'unknownCritical';

export interface TestPki {
  dir: string;
  /** The root only: what ZGW_AUTH_TLS_CLIENT_CA holds when clients send their intermediates. */
  anchorsPath: string;
  /** Root and both intermediates: for a proxy that passes only the leaf. */
  bundlePath: string;
  /** The TSP CA's CRL (PEM), listing `revoked`. */
  crlPath: string;
  /** Root of the other hierarchy. */
  otherRootPath: string;
  rootPem: string;
  domainCaPem: string;
  tspCaPem: string;
  certs: Record<CertificateName, Issued>;
  /** The subject DNs as RFC 4514 strings, leaf RDN first. */
  subjectDn: { client: string; clientRsa: string };
  /** Revokes a certificate the TSP CA issued (in its database; the CRL changes with writeCrl). */
  revoke(name: CertificateName): void;
  /**
   * A new CRL of the TSP CA, written to a temporary file and renamed over `to` (crlPath unless
   * given), as a cron job should; its lastUpdate and nextUpdate when given (epoch ms). Returns its bytes.
   */
  writeCrl(options?: { lastUpdate?: number; nextUpdate?: number; to?: string }): Buffer;
  remove(): void;
}

const DAY = 86_400_000;

/** Makes the whole PKI (about a second); removed with remove() or at process exit. */
export function makeTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-pki-'));
  const untrack = track(`test PKI ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => path.join(dir, name);
  const write = (name: string, text: string) => (fs.writeFileSync(file(name), text), file(name));
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const key = (name: string, rsa = false) => {
    const pair = rsa
      ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
      : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    write(`${name}.key`, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    return file(`${name}.key`);
  };
  // Only the distinguished_name section openssl req insists on: no defaults slip into the certificates.
  const reqConfig = write('req.cnf', '[req]\ndistinguished_name=dn\n[dn]\n');
  const ext = (name: string, lines: string[]) => write(`${name}.ext`, `[ext]\n${lines.join('\n')}\n`);
  const csr = (name: string, subject: string, rsa = false) => {
    const k = key(name, rsa);
    openssl(['req', '-new', '-config', reqConfig, '-utf8', '-key', k, '-subj', subject, '-out', file(`${name}.csr`)]);
    return k;
  };
  // openssl 3.0's req -x509 has no -extfile: sign the CSR with its own key through x509 -req instead.
  const selfSign = (name: string, subject: string, extLines: string[], days: number) => {
    const k = csr(name, subject);
    openssl(
      ['x509', '-req', '-in', file(`${name}.csr`), '-key', k, '-days', String(days), '-sha256'].concat([
        '-extfile',
        ext(name, extLines),
        '-extensions',
        'ext',
        '-out',
        file(`${name}.pem`),
      ]),
    );
  };
  const signWith = (issuer: string, name: string, extLines: string[], days: number) =>
    openssl(
      [
        'x509',
        '-req',
        '-in',
        file(`${name}.csr`),
        '-CA',
        file(`${issuer}.pem`),
        '-CAkey',
        file(`${issuer}.key`),
      ].concat(
        ['-set_serial', `0x${crypto.randomBytes(12).toString('hex')}`, '-days', String(days), '-sha256'],
        ['-extfile', ext(name, extLines), '-extensions', 'ext', '-out', file(`${name}.pem`)],
      ),
    );

  const caExt = (pathLen: number | null) => [
    `basicConstraints=critical,CA:true${pathLen === null ? '' : `,pathlen:${pathLen}`}`,
    'keyUsage=critical,keyCertSign,cRLSign',
    'subjectKeyIdentifier=hash',
  ];
  selfSign(
    'root',
    '/C=NL/O=Test Staat der Nederlanden/CN=Test Staat der Nederlanden Private Root CA - G1',
    caExt(null),
    3650,
  );
  csr('domain', '/C=NL/O=Test Staat der Nederlanden/CN=Test Staat der Nederlanden Private Services CA - G1');
  signWith('root', 'domain', [...caExt(1), 'authorityKeyIdentifier=keyid'], 3650);
  csr('tsp', '/C=NL/O=Test TSP B.V./organizationIdentifier=NTRNL-12345678/CN=Test TSP Private Services CA - G1');
  signWith('domain', 'tsp', [...caExt(0), 'authorityKeyIdentifier=keyid'], 3650);

  // The TSP CA issues through `openssl ca`: start and end dates of choice, and a revocation database for the CRL.
  fs.mkdirSync(file('issued'));
  write('index.txt', '');
  write('crlnumber', '1000\n');
  const caConfig = write(
    'ca.cnf',
    [
      '[ca]',
      'default_ca=tsp',
      '[tsp]',
      `dir=${dir}`,
      'database=$dir/index.txt',
      'new_certs_dir=$dir/issued',
      'certificate=$dir/tsp.pem',
      'private_key=$dir/tsp.key',
      'crlnumber=$dir/crlnumber',
      'default_md=sha256',
      'default_crl_days=7',
      'policy=anything',
      'unique_subject=no',
      'rand_serial=yes',
      '[anything]',
      'countryName=optional',
      'organizationName=optional',
      'serialNumber=optional',
      'commonName=optional',
      '',
    ].join('\n'),
  );
  const stamp = (t: number) => new Date(t).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  const now = Date.now();
  const issue = (
    name: string,
    subject: string,
    extLines: string[],
    { from = now - DAY, to = now + 365 * DAY, rsa = false } = {},
  ) => {
    csr(name, subject, rsa);
    openssl(
      ['ca', '-batch', '-config', caConfig, '-in', file(`${name}.csr`), '-out', file(`${name}.pem`)].concat(
        ['-notext', '-preserveDN', '-startdate', stamp(from), '-enddate', stamp(to)],
        ['-extfile', ext(name, extLines), '-extensions', 'ext'],
      ),
    );
  };
  const clientExt = (san: string[] = []) => [
    'basicConstraints=critical,CA:false',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=clientAuth',
    'authorityKeyIdentifier=keyid',
    'certificatePolicies=2.16.528.1.1003.1.2.8.6',
    ...(san.length ? [`subjectAltName=${san.join(',')}`] : []),
  ];
  const org = (oin: string, cn: string, o = 'Gemeente Testdorp') => `/C=NL/O=${o}/serialNumber=${oin}/CN=${cn}`;

  issue(
    'client',
    org(OIN, 'zaaksysteem.testdorp.nl'),
    clientExt([
      'DNS:zaaksysteem.testdorp.nl',
      'URI:https://zaaksysteem.testdorp.nl/oauth',
      'IP:192.0.2.10',
      'email:beheer@Testdorp.NL',
    ]),
  );
  issue('clientRsa', org(OTHER_OIN, 'dms.leverancier.nl', 'Leverancier "Zaken, Documenten" B.V.'), clientExt(), {
    rsa: true,
  });
  issue('expired', org(OIN, 'verlopen.testdorp.nl'), clientExt(), { from: now - 400 * DAY, to: now - 35 * DAY });
  issue('notYetValid', org(OIN, 'toekomst.testdorp.nl'), clientExt(), { from: now + 30 * DAY, to: now + 400 * DAY });
  issue('revoked', org(OIN, 'ingetrokken.testdorp.nl'), clientExt());
  issue('wrongOin', org('00000001009999999000', 'buurgemeente.nl', 'Gemeente Buurdorp'), clientExt());
  issue('noClientAuth', org(OIN, 'alleen-server.testdorp.nl'), [
    'basicConstraints=critical,CA:false',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
  ]);
  issue('noDigitalSignature', org(OIN, 'alleen-sleutelovereenkomst.testdorp.nl'), [
    'basicConstraints=critical,CA:false',
    'keyUsage=critical,keyAgreement',
    'extendedKeyUsage=clientAuth',
  ]);
  issue('server', '/C=NL/O=Gemeente Testdorp/CN=localhost', [
    'basicConstraints=critical,CA:false',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  // A CA certificate with the organisation's OIN, under the domain CA: presented as a client certificate it must not pass.
  csr('caAsLeaf', org(OIN, 'sub-ca.testdorp.nl'));
  signWith('domain', 'caAsLeaf', [...caExt(0), 'authorityKeyIdentifier=keyid', 'extendedKeyUsage=clientAuth'], 365);
  // Another hierarchy: a root nobody configured, issuing a certificate with the right OIN.
  selfSign('otherRoot', '/C=NL/O=Elders/CN=Elders Root CA', caExt(null), 3650);
  csr('otherRootLeaf', org(OIN, 'zaaksysteem.testdorp.nl'));
  signWith('otherRoot', 'otherRootLeaf', clientExt(), 365);
  fs.renameSync(file('otherRootLeaf.pem'), file('otherRoot-leaf.pem'));
  // A self-signed client certificate (self_signed_tls_client_auth).
  selfSign('selfSigned', '/CN=self-signed-client', clientExt(['DNS:self-signed-client.example']), 365);

  issue('unknownCritical', org(OIN, 'onbekend.testdorp.nl'), [
    ...clientExt(),
    '1.3.6.1.4.1.99999.1=critical,ASN1:NULL',
  ]);
  // An impostor CA with the TSP CA's very name but its own key, and a certificate it signed without
  // an authority key id: only the signature tells it from a real one.
  selfSign(
    'fakeTsp',
    '/C=NL/O=Test TSP B.V./organizationIdentifier=NTRNL-12345678/CN=Test TSP Private Services CA - G1',
    caExt(0),
    365,
  );
  csr('forgedIssuer', org(OIN, 'zaaksysteem.testdorp.nl'));
  signWith(
    'fakeTsp',
    'forgedIssuer',
    // openssl 3 adds an authority key id unless told `none`.
    [...clientExt().filter((l) => !l.startsWith('authorityKeyIdentifier')), 'authorityKeyIdentifier=none'],
    365,
  );
  // A CA below the TSP CA, whose path length (0) allows none.
  csr('subCa', '/C=NL/O=Test TSP B.V./CN=Test TSP Sub CA');
  signWith('tsp', 'subCa', [...caExt(null), 'authorityKeyIdentifier=keyid'], 365);
  csr('pathTooLong', org(OIN, 'diep.testdorp.nl'));
  signWith('subCa', 'pathTooLong', clientExt(), 365);
  // A certificate that is no CA (and has no key usage to say so) acting as an issuer.
  csr('notCa', '/C=NL/O=Gemeente Testdorp/CN=Geen CA');
  signWith(
    'tsp',
    'notCa',
    ['basicConstraints=critical,CA:false', 'authorityKeyIdentifier=keyid', 'subjectKeyIdentifier=hash'],
    365,
  );
  csr('underNotCa', org(OIN, 'onder-geen-ca.testdorp.nl'));
  signWith('notCa', 'underNotCa', clientExt(), 365);

  openssl(['ca', '-config', caConfig, '-revoke', file('revoked.pem'), '-crl_reason', 'keyCompromise']);
  openssl(['ca', '-config', caConfig, '-gencrl', '-out', file('tsp.crl')]);

  const read = (name: string) => fs.readFileSync(file(name), 'utf8');
  const rootPem = read('root.pem');
  const domainCaPem = read('domain.pem');
  const tspCaPem = read('tsp.pem');
  const issued = (name: string, certFile: string, keyFile: string, issuers: string[]): Issued => {
    const certPem = read(certFile);
    const keyPem = read(keyFile);
    const chainPem = [certPem, ...issuers].join('');
    const der = new crypto.X509Certificate(certPem).raw;
    const x5c = [certPem, ...issuers].map((p) => new crypto.X509Certificate(p).raw.toString('base64'));
    return {
      certPath: file(certFile),
      keyPath: file(keyFile),
      chainPath: write(`${name}.chain.pem`, chainPem),
      certPem,
      keyPem,
      chainPem,
      der,
      x5c,
      jwk: crypto.createPublicKey(certPem).export({ format: 'jwk' }),
    };
  };
  const underTsp = [tspCaPem, domainCaPem];
  const names: CertificateName[] = [
    'client',
    'clientRsa',
    'expired',
    'notYetValid',
    'revoked',
    'wrongOin',
    'noClientAuth',
    'noDigitalSignature',
    'server',
    'unknownCritical',
  ];
  const certs = Object.fromEntries(names.map((n) => [n, issued(n, `${n}.pem`, `${n}.key`, underTsp)])) as Record<
    CertificateName,
    Issued
  >;
  certs.caAsLeaf = issued('caAsLeaf', 'caAsLeaf.pem', 'caAsLeaf.key', [domainCaPem]);
  certs.otherRoot = issued('otherRoot', 'otherRoot-leaf.pem', 'otherRootLeaf.key', []);
  certs.selfSigned = issued('selfSigned', 'selfSigned.pem', 'selfSigned.key', []);
  certs.forgedIssuer = issued('forgedIssuer', 'forgedIssuer.pem', 'forgedIssuer.key', underTsp);
  certs.pathTooLong = issued('pathTooLong', 'pathTooLong.pem', 'pathTooLong.key', [read('subCa.pem'), ...underTsp]);
  certs.underNotCa = issued('underNotCa', 'underNotCa.pem', 'underNotCa.key', [read('notCa.pem'), ...underTsp]);

  const pki: TestPki = {
    dir,
    anchorsPath: file('root.pem'),
    bundlePath: write('bundle.pem', rootPem + domainCaPem + tspCaPem),
    crlPath: file('tsp.crl'),
    otherRootPath: file('otherRoot.pem'),
    rootPem,
    domainCaPem,
    tspCaPem,
    certs,
    subjectDn: {
      client: `CN=zaaksysteem.testdorp.nl,serialNumber=${OIN},O=Gemeente Testdorp,C=NL`,
      clientRsa: `CN=dms.leverancier.nl,serialNumber=${OTHER_OIN},O=Leverancier \\"Zaken\\, Documenten\\" B.V.,C=NL`,
    },
    revoke(name) {
      openssl(['ca', '-config', caConfig, '-revoke', pki.certs[name].certPath, '-crl_reason', 'keyCompromise']);
    },
    writeCrl({ lastUpdate, nextUpdate, to = file('tsp.crl') } = {}) {
      const temporary = `${to}.${crypto.randomBytes(4).toString('hex')}.tmp`;
      openssl(
        ['ca', '-config', caConfig, '-gencrl', '-out', temporary].concat(
          lastUpdate === undefined ? [] : ['-crl_lastupdate', stamp(lastUpdate)],
          nextUpdate === undefined ? [] : ['-crl_nextupdate', stamp(nextUpdate)],
        ),
      );
      fs.renameSync(temporary, to);
      return fs.readFileSync(to);
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
      untrack();
    },
  };
  return pki;
}
