import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Clock, startTestServer, type TestServer } from './helpers.js';
import { type CertificateName, makeTestPki, OIN, OTHER_OIN, type TestPki } from './pki/test-pki.js';
import { httpsPostForm, httpsRequest, type TlsIdentity } from './pki/tls-client.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The real time, moved on by advance(): the CRLs openssl writes now are current for the server too. */
class MovableRealClock extends Clock {
  private offset = 0;
  override now = () => Date.now() + this.offset;
  override advance(seconds: number) {
    this.offset += seconds * 1000;
  }
}

/** The test's own bound on waiting for a reload (the interval is 1 s): a broken reload fails here, never hangs. */
const PATIENCE_MS = 20_000;

describe('CRL files that change while the server runs (ZGW_AUTH_CRL_RELOAD)', () => {
  let pki: TestPki;
  let ts: TestServer;
  let clientId: string;
  let rsaClientId: string;
  // Each check from an address of its own: the back-off counts failures per address.
  const as = (name: CertificateName, localAddress: string): TlsIdentity => ({
    cert: pki.certs[name].chainPem,
    key: pki.certs[name].keyPem,
    ca: pki.rootPem,
    localAddress,
  });
  const token = (id: string, identity: TlsIdentity) =>
    httpsPostForm(`${ts.url}/token`, identity, { grant_type: 'client_credentials', client_id: id });
  const lastFailure = async (id: string) =>
    (await ts.app.audit.list({ action: 'client_auth.failed', target: id }))[0]?.details.detail;
  const ready = async () => {
    const res = await httpsRequest(`${ts.url}/health/ready`, as('client', '127.0.0.9'));
    return { status: res.status, checks: (JSON.parse(res.text) as { checks: Record<string, string> }).checks };
  };
  const metric = async (name: string) =>
    (await ts.app.metrics.registry.metrics()).split('\n').filter((l) => l.startsWith(`${name}{`));
  /** Waits until `done` holds, looking every 100 ms, at most PATIENCE_MS. */
  async function until<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    const end = Date.now() + PATIENCE_MS;
    for (;;) {
      const value = await probe();
      if (done(value)) return value;
      if (Date.now() > end) assert.fail(`${what}: not within ${PATIENCE_MS} ms, last ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  let startCrl: Buffer;

  before(async () => {
    pki = makeTestPki();
    startCrl = fs.readFileSync(pki.crlPath);
    ts = await startTestServer({
      clock: new MovableRealClock(),
      env: {
        ZGW_AUTH_TLS_CERT: pki.certs.server.chainPath,
        ZGW_AUTH_TLS_KEY: pki.certs.server.keyPath,
        ZGW_AUTH_TLS_CLIENT_CA: pki.anchorsPath,
        ZGW_AUTH_TLS_CLIENT_CERT: 'optional',
        ZGW_AUTH_TLS_CRL: pki.crlPath,
        ZGW_AUTH_CRL_RELOAD: '1',
      },
    });
    clientId = (await ts.createClient({ authMethods: ['tls_client_auth'], oin: OIN })).clientId;
    rsaClientId = (await ts.createClient({ authMethods: ['tls_client_auth'], oin: OTHER_OIN })).clientId;
  });
  after(async () => {
    await ts?.close();
    pki?.remove();
  });

  it('a certificate revoked after the start is refused at its next authentication, without a restart', async () => {
    assert.equal((await token(rsaClientId, as('clientRsa', '127.0.0.2'))).status, 200);
    // Validated a moment ago: the verdict is cached, and a new CRL must end it.
    assert.equal((await token(rsaClientId, as('clientRsa', '127.0.0.2'))).status, 200);
    pki.revoke('clientRsa');
    pki.writeCrl();
    const refused = await until(
      'the revoked certificate refused',
      () => token(rsaClientId, as('clientRsa', '127.0.0.3')),
      (res) => res.status !== 200,
    );
    assert.equal(refused.status, 401, refused.text);
    assert.equal((JSON.parse(refused.text) as { error: string }).error, 'invalid_client');
    assert.equal(await lastFailure(rsaClientId), 'certificate revoked');
    // Only the revoked one: the other certificate of the same CA still gets its token.
    assert.equal((await token(clientId, as('client', '127.0.0.4'))).status, 200);
    assert.ok(ts.logs.some((l) => l.includes('CRL reloaded')));
    assert.equal((await ready()).checks.crl, 'ok');
    assert.deepEqual(await metric('zgw_auth_crl_reload_failing'), [`zgw_auth_crl_reload_failing{file="1"} 0`]);
  });

  it('a CRL file that no longer parses is refused: the last good CRL stays, and readiness and metrics say so', async () => {
    fs.writeFileSync(`${pki.crlPath}.tmp`, '-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n');
    fs.renameSync(`${pki.crlPath}.tmp`, pki.crlPath);
    const { status, checks } = await until('readiness reporting the refused file', ready, (r) => r.checks.crl !== 'ok');
    assert.equal(status, 200, 'a refused CRL file takes no process out');
    assert.match(checks.crl!, /^CRL file 1 of 1 refused \(.+\); the last good CRL is in use$/);
    assert.ok(!checks.crl!.includes(pki.dir), 'readiness answers anyone: no file paths');
    assert.deepEqual(await metric('zgw_auth_crl_reload_failing'), [`zgw_auth_crl_reload_failing{file="1"} 1`]);
    // Metrics are scraped from wherever: the file by its place in ZGW_AUTH_TLS_CRL, never its path.
    assert.ok(!(await ts.app.metrics.registry.metrics()).includes(pki.dir), 'no CRL file path in the metrics');
    assert.ok(ts.logs.some((l) => l.includes('CRL file refused; the last good CRL stays in use')));
    // Fail open would be accepting the revoked certificate now.
    assert.equal((await token(rsaClientId, as('clientRsa', '127.0.0.5'))).status, 401);
    assert.equal(await lastFailure(rsaClientId), 'certificate revoked');
    assert.equal((await token(clientId, as('client', '127.0.0.6'))).status, 200);
  });

  it('an older CRL (a rollback that would bring a revoked certificate back) is refused', async () => {
    // The start's CRL does not list clientRsa; with a lastUpdate before the one in use, it is a rollback.
    const older = pki.writeCrl({ lastUpdate: Date.now() - HOUR, to: `${pki.dir}/older.crl` });
    assert.ok(!older.equals(startCrl));
    fs.renameSync(`${pki.dir}/older.crl`, pki.crlPath);
    const { checks } = await until('readiness reporting the rollback', ready, (r) => /older/.test(r.checks.crl ?? ''));
    assert.match(checks.crl!, /older \(thisUpdate\) than the CRL in use/);
    assert.equal((await token(rsaClientId, as('clientRsa', '127.0.0.7'))).status, 401);
    assert.equal(await lastFailure(rsaClientId), 'certificate revoked');
  });

  it('a good CRL again is used; once it is past its nextUpdate every certificate of its CA is refused (fail closed)', async () => {
    pki.writeCrl({ nextUpdate: Date.now() + 2 * DAY });
    await until('readiness ok again', ready, (r) => r.checks.crl === 'ok');
    assert.equal((await token(clientId, as('client', '127.0.0.8'))).status, 200);
    ts.clock.advance(3 * 86_400);
    const { status, checks } = await until('readiness reporting the outdated CRL', ready, (r) => r.checks.crl !== 'ok');
    assert.equal(status, 200);
    assert.match(checks.crl!, /past its nextUpdate/);
    assert.equal((await token(clientId, as('client', '127.0.0.10'))).status, 401);
    assert.equal(await lastFailure(clientId), 'the CRL of its issuer is outdated');
    assert.ok(ts.logs.some((l) => l.includes('CRL past its nextUpdate')));
  });
});
