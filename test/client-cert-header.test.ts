import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { ClientInput } from '../src/clients/model.js';
import { decodePart, eventually, postForm, startTestServer, type TestServer } from './helpers.js';
import { makeTestPki, OIN, type CertificateName, type TestPki } from './pki/test-pki.js';
import { spawnTracked } from './resources.js';

// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

const run = promisify(execFile);
/** Debian installs nginx in /usr/sbin, which a user's PATH may lack. */
const NGINX = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

/** RFC 9440: a Structured Field byte sequence of the DER certificate. */
const byteSequence = (der: Buffer) => `:${der.toString('base64')}:`;

describe('client certificates from a TLS-terminating proxy (ZGW_AUTH_CLIENT_CERT_HEADER)', () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => pki?.remove());

  describe("RFC 9440 Client-Cert and Client-Cert-Chain, believed from ZGW_AUTH_TRUST_PROXY's 127.0.0.1 only", () => {
    let ts: TestServer;
    before(async () => {
      ts = await startTestServer({
        env: {
          ...FAST_KEYS,
          ZGW_AUTH_TRUST_PROXY: '127.0.0.1',
          ZGW_AUTH_CLIENT_CERT_HEADER: 'client-cert',
          ZGW_AUTH_TLS_CLIENT_CA: pki.anchorsPath,
          ZGW_AUTH_TLS_CRL: pki.crlPath,
        },
      });
    });
    after(async () => ts?.close());
    const client = async (input: Partial<ClientInput> = {}) =>
      (await ts.createClient({ authMethods: ['tls_client_auth'], oin: OIN, ...input })).clientId;
    const headersOf = (name: CertificateName) => {
      const [, ...chain] = pki.certs[name].x5c;
      return {
        'client-cert': byteSequence(pki.certs[name].der),
        ...(chain.length ? { 'client-cert-chain': chain.map((c) => `:${c}:`).join(', ') } : {}),
      };
    };
    const ask = (clientId: string, headers: Record<string, string>, from = '127.0.0.1') =>
      postForm(`${ts.url}/token`, { grant_type: 'client_credentials', client_id: clientId }, headers, from);
    const failure = async (clientId: string) => {
      const events = await ts.app.audit.list({ action: 'client_auth.failed', target: clientId });
      return events.map((e) => `${e.reason}: ${String(e.details.detail)}`).join('; ');
    };

    it('gives a token for a certificate the proxy passes with its chain', async () => {
      const clientId = await client();
      const res = await ask(clientId, headersOf('client'));
      assert.equal(res.status, 200, res.text);
      assert.equal(decodePart(res.json.access_token, 1).client_id, clientId);
    });

    it('refuses, with invalid_client and an audited reason, every hostile header', async () => {
      const good = headersOf('client');
      const cases: [string, Record<string, string>, string, string?][] = [
        [
          'a certificate header sent by the caller itself (not a trusted proxy)',
          good,
          'certificate_header_refused: a certificate header from an address that is no trusted proxy',
          '127.0.0.2',
        ],
        [
          'garbage',
          { 'client-cert': ':!!not base64!!:' },
          'certificate_header_refused: certificate header is no RFC 9440 byte sequence',
        ],
        [
          'no form at all',
          { 'client-cert': 'hello' },
          'certificate_header_refused: certificate header in no known form (RFC 9440 byte sequence or URL-escaped PEM)',
        ],
        [
          'base64 of no certificate',
          { 'client-cert': ':AAAA:' },
          'certificate_header_refused: unreadable certificate: not an X.509 certificate',
        ],
        [
          'oversized',
          { 'client-cert': `:${'A'.repeat(9000)}:` },
          'certificate_header_refused: certificate header too large',
        ],
        [
          'a bad chain list',
          { ...good, 'client-cert-chain': 'x' },
          'certificate_header_refused: certificate chain header is no RFC 9440 list of byte sequences',
        ],
        [
          'without the intermediates the anchors need',
          { 'client-cert': good['client-cert'] },
          'untrusted_chain: chain does not lead to a trusted root',
        ],
        ['a chain to another root', headersOf('otherRoot'), 'untrusted_chain: chain does not lead to a trusted root'],
        ['expired', headersOf('expired'), 'untrusted_chain: certificate expired'],
        ['revoked', headersOf('revoked'), 'untrusted_chain: certificate revoked'],
        [
          'a CA certificate as client certificate',
          headersOf('caAsLeaf'),
          'untrusted_chain: a CA certificate is no client certificate',
        ],
        ['another OIN', headersOf('wrongOin'), "certificate_mismatch: the certificate does not carry the client's OIN"],
      ];
      for (const [what, headers, audited, from] of cases) {
        const clientId = await client();
        const res = await ask(clientId, headers, from);
        assert.equal(res.status, 401, `${what}: ${res.status} ${res.text}`);
        assert.equal(res.json.error, 'invalid_client', what);
        assert.equal(await failure(clientId), audited, what);
      }
    });

    it('refuses a certificate header from an untrusted address even next to a right secret', async () => {
      const secretClient = await ts.createClient();
      const form = {
        grant_type: 'client_credentials',
        client_id: secretClient.clientId,
        client_secret: secretClient.secret,
      };
      const res = await postForm(`${ts.url}/token`, form, headersOf('client'), '127.0.0.2');
      assert.equal(res.status, 401, res.text);
      assert.equal(res.json.error, 'invalid_client');
      assert.equal(
        await failure(secretClient.clientId),
        'certificate_header_refused: a certificate header from an address that is no trusted proxy',
      );
      // The same secret without the header works: the refusal was the header's.
      assert.equal((await postForm(`${ts.url}/token`, form, {}, '127.0.0.2')).status, 200);
    });
  });

  describe('nginx in front, verifying nothing itself (optional_no_ca) and passing $ssl_client_escaped_cert', () => {
    let ts: TestServer;
    let nginx: ReturnType<typeof spawnTracked> | undefined;
    let proxyUrl: string;
    before(async () => {
      // Only the leaf comes through nginx's header: the bundle's intermediates complete the chain.
      ts = await startTestServer({
        env: {
          ...FAST_KEYS,
          ZGW_AUTH_TRUST_PROXY: '127.0.0.1',
          ZGW_AUTH_CLIENT_CERT_HEADER: 'x-ssl-client-cert',
          ZGW_AUTH_TLS_CLIENT_CA: pki.bundlePath,
          ZGW_AUTH_TLS_CRL: pki.crlPath,
        },
      });
      const port = await freePort();
      const dir = fs.mkdtempSync(path.join(pki.dir, 'nginx-'));
      const conf = path.join(dir, 'nginx.conf');
      fs.writeFileSync(
        conf,
        [
          ...(process.getuid?.() === 0 ? ['user root;'] : []),
          'worker_processes 1;',
          `pid ${dir}/nginx.pid;`,
          `error_log ${dir}/error.log warn;`,
          'events { worker_connections 64; }',
          'http {',
          '  access_log off;',
          ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
          '  server {',
          `    listen 127.0.0.1:${port} ssl;`,
          `    ssl_certificate ${pki.certs.server.chainPath};`,
          `    ssl_certificate_key ${pki.certs.server.keyPath};`,
          '    ssl_verify_client optional_no_ca;',
          '    location / {',
          `      proxy_pass ${ts.url};`,
          // Set on every request: a header the caller sent under this name is replaced (or dropped when empty).
          '      proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;',
          '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
          '    }',
          '  }',
          '}',
          '',
        ].join('\n'),
      );
      nginx = spawnTracked(NGINX, ['-c', conf, '-p', dir, '-g', 'daemon off;'], { stdio: 'ignore' });
      proxyUrl = `https://localhost:${port}`;
      const up = await eventually(
        () =>
          new Promise<boolean>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
            s.on('error', () => resolve(false));
          }),
        10_000,
      );
      assert.ok(
        up,
        `nginx did not start: ${fs.existsSync(`${dir}/error.log`) ? fs.readFileSync(`${dir}/error.log`, 'utf8') : ''}`,
      );
    });
    after(async () => {
      if (nginx && nginx.exitCode === null) {
        const exited = new Promise((r) => nginx!.once('exit', r));
        nginx.kill('SIGTERM');
        await exited;
      }
      await ts?.close();
    });

    const curl = async (clientId: string, cert: CertificateName | undefined, extra: string[] = []) => {
      const args = [
        '-sS',
        '--cacert',
        pki.anchorsPath,
        '-d',
        'grant_type=client_credentials',
        '-d',
        `client_id=${clientId}`,
      ];
      if (cert) args.push('--cert', pki.certs[cert].certPath, '--key', pki.certs[cert].keyPath);
      const { stdout } = await run('curl', [...args, ...extra, '-w', '\n%{http_code}', `${proxyUrl}/token`]);
      const lines = stdout.split('\n');
      return { status: Number(lines.pop()), json: JSON.parse(lines.join('\n')) as Record<string, string> };
    };

    it('curl --cert through nginx: a token for the organisation certificate', async () => {
      const clientId = (await ts.createClient({ authMethods: ['tls_client_auth'], oin: OIN })).clientId;
      const res = await curl(clientId, 'client');
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(decodePart(res.json.access_token!, 1).client_id, clientId);
    });

    it('through nginx, zgw-auth refuses what nginx let pass: another root, revoked, no certificate, a header the caller wrote', async () => {
      for (const [cert, reason] of [
        ['otherRoot', 'untrusted_chain'],
        ['revoked', 'untrusted_chain'],
      ] as const) {
        const clientId = (await ts.createClient({ authMethods: ['tls_client_auth'], oin: OIN })).clientId;
        const res = await curl(clientId, cert);
        assert.equal(res.status, 401, cert);
        assert.equal(res.json.error, 'invalid_client');
        const events = await ts.app.audit.list({ action: 'client_auth.failed', target: clientId });
        assert.equal(events[0]?.reason, reason, cert);
      }
      const clientId = (await ts.createClient({ authMethods: ['tls_client_auth'], oin: OIN })).clientId;
      const none = await curl(clientId, undefined);
      assert.equal(none.status, 401);
      // The caller's own copy of the header never reaches zgw-auth: nginx replaces it with its (empty) variable.
      const forged = encodeURIComponent(pki.certs.client.certPem);
      const spoofed = await curl(clientId, undefined, ['-H', `X-SSL-Client-Cert: ${forged}`]);
      assert.equal(spoofed.status, 401);
      assert.equal(spoofed.json.error, 'invalid_client');
    });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
