import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp, createLogger } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { exportRegistry, importRegistry } from '../src/transfer/registry-transfer.js';
import { basicAuth, Clock, postForm, request, startTestServer, type TestServer } from './helpers.js';
import { type CertificateName, makeTestPki, OIN, type TestPki } from './pki/test-pki.js';
import { httpsPostForm, type TlsIdentity } from './pki/tls-client.js';

// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

/**
 * A CRL file keeps its CA across reloads and never takes a list dated in the future as its newest;
 * a client without a secret method keeps no live secret, whatever races or imports bring.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PATIENCE_MS = 20_000;

/** Real time, so that the CRLs openssl writes now are current for the server. */
class RealClock extends Clock {
  override now = () => Date.now();
}

describe('a CRL file swapped for a foreign or future-dated list while the server runs (ZGW_AUTH_CRL_RELOAD)', () => {
  let pki: TestPki;
  let ts: TestServer;
  let clientId: string;
  let foreignCa: (options: { lastUpdate?: number; to: string }) => void;
  const as = (name: CertificateName, localAddress: string): TlsIdentity => ({
    cert: pki.certs[name].chainPem,
    key: pki.certs[name].keyPem,
    ca: pki.rootPem,
    localAddress,
  });
  const token = (id: string, identity: TlsIdentity) =>
    httpsPostForm(`${ts.url}/token`, identity, { grant_type: 'client_credentials', client_id: id });
  const status = () => ts.app.crls!.status()[0]!;
  async function until(what: string, done: () => boolean): Promise<void> {
    const end = Date.now() + PATIENCE_MS;
    while (!done()) {
      if (Date.now() > end) assert.fail(`${what}: not within ${PATIENCE_MS} ms: ${JSON.stringify(status())}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  before(async () => {
    pki = makeTestPki();
    // A CA no one configured (the test PKI's other root, whose key is at hand): an `openssl ca`
    // of its own writes its (empty) CRL. Anyone can make such a CA and such a CRL.
    const dir = pki.dir;
    fs.mkdirSync(path.join(dir, 'foreign'));
    fs.writeFileSync(path.join(dir, 'foreign', 'index.txt'), '');
    fs.writeFileSync(path.join(dir, 'foreign', 'crlnumber'), '2000\n');
    const cnf = path.join(dir, 'foreign', 'ca.cnf');
    fs.writeFileSync(
      cnf,
      [
        '[ca]',
        'default_ca=foreign',
        '[foreign]',
        `database=${dir}/foreign/index.txt`,
        `certificate=${dir}/otherRoot.pem`,
        `private_key=${dir}/otherRoot.key`,
        `crlnumber=${dir}/foreign/crlnumber`,
        'default_md=sha256',
        'default_crl_days=7',
        '',
      ].join('\n'),
    );
    const stamp = (t: number) => new Date(t).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
    foreignCa = ({ lastUpdate, to }) => {
      execFileSync(
        'openssl',
        ['ca', '-config', cnf, '-gencrl', '-out', `${to}.tmp`].concat(
          lastUpdate === undefined ? [] : ['-crl_lastupdate', stamp(lastUpdate)],
        ),
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      fs.renameSync(`${to}.tmp`, to);
    };
    ts = await startTestServer({
      clock: new RealClock(),
      env: {
        ...FAST_KEYS,
        ZGW_AUTH_TLS_CERT: pki.certs.server.chainPath,
        ZGW_AUTH_TLS_KEY: pki.certs.server.keyPath,
        ZGW_AUTH_TLS_CLIENT_CA: pki.anchorsPath,
        ZGW_AUTH_TLS_CLIENT_CERT: 'optional',
        ZGW_AUTH_TLS_CRL: pki.crlPath,
        ZGW_AUTH_CRL_RELOAD: '1',
      },
    });
    clientId = (await ts.createClient({ authMethods: ['tls_client_auth'], oin: OIN })).clientId;
  });
  after(async () => {
    await ts?.close();
    pki?.remove();
  });

  it('a CRL of another CA renamed over the TSP CA file is refused; the revoked certificate stays revoked', async () => {
    // At the start the TSP CA's CRL lists `revoked`.
    const before = await token(clientId, as('revoked', '127.0.0.2'));
    assert.equal(before.status, 401, before.text);
    const lastGood = status().thisUpdate;
    // A newer list (thisUpdate now), but of a CA the bundle does not know and so never verified.
    foreignCa({ to: pki.crlPath });
    await until('the reloader to look at the swapped file', () => {
      const s = status();
      return s.refused !== undefined || s.thisUpdate !== lastGood;
    });
    const after = await token(clientId, as('revoked', '127.0.0.3'));
    assert.equal(
      after.status,
      401,
      `the revoked certificate got a token after a foreign CRL replaced its CA's CRL (fail open), status ${after.status}`,
    );
    assert.notEqual(status().refused, undefined, 'the foreign CRL is refused, the last good one stays');
  });

  it('a CRL dated in the future does not lock out every honest CRL after it (rollback guard)', async () => {
    // The CA (or a clock on its side) puts out one list dated a month ahead, then an honest one.
    pki.writeCrl({ lastUpdate: Date.now() + 30 * DAY, nextUpdate: Date.now() + 37 * DAY });
    await until('the future-dated file looked at', () => {
      const s = status();
      return s.refused !== undefined || s.thisUpdate > Date.now() + DAY;
    });
    pki.revoke('clientRsa');
    pki.writeCrl({ lastUpdate: Date.now(), nextUpdate: Date.now() + 7 * DAY });
    await until('the honest file looked at', () => {
      const s = status();
      return s.refused !== undefined || s.thisUpdate <= Date.now();
    });
    // Let a second look happen: the honest list must be the one in use.
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(
      status().thisUpdate <= Date.now(),
      `the honest CRL is not in use; refused: ${String(status().refused)} (a future thisUpdate locks every later CRL out until a restart)`,
    );
    const ok = await token(clientId, as('client', '127.0.0.4'));
    assert.equal(ok.status, 200, `a valid certificate is refused under the honest CRL: ${ok.text}`);
  });

  it('a FIFO or a symlink to /dev/zero in place of the file is refused, never read: the looks go on', async () => {
    const inUse = status().thisUpdate;
    const swap = (make: (tmp: string) => void) => {
      const tmp = `${pki.crlPath}.${crypto.randomBytes(4).toString('hex')}`;
      make(tmp);
      fs.renameSync(tmp, pki.crlPath);
    };
    swap((tmp) => execFileSync('mkfifo', [tmp]));
    await until('the FIFO refused', () => status().refused === 'not a regular file');
    swap((tmp) => fs.symlinkSync('/dev/zero', tmp));
    // Another file (a new inode), the same reason, so no new log line: two looks of our own, bounded.
    for (let k = 0; k < 2; k++)
      await Promise.race([
        ts.app.crls!.check(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('a look at /dev/zero did not end')), PATIENCE_MS)),
      ]);
    assert.equal(status().refused, 'not a regular file');
    assert.equal(status().thisUpdate, inUse, 'the last good list stays');
    // A regular, honest file afterwards is used: the reloader was not stuck on either.
    pki.writeCrl({ lastUpdate: Date.now(), nextUpdate: Date.now() + 7 * DAY });
    await until('the honest file used again', () => status().refused === undefined);
    // At start, the same files stop the start with their name.
    const fifo = path.join(pki.dir, 'start.fifo');
    execFileSync('mkfifo', [fifo]);
    const env = (crl: string) => ({
      ZGW_AUTH_TLS_CLIENT_CA: pki.anchorsPath,
      ZGW_AUTH_TLS_CRL: crl,
    });
    await assert.rejects(
      startTestServer({ env: { ...FAST_KEYS, ...env(fifo) } }),
      /ZGW_AUTH_TLS_CRL .*start\.fifo: not a regular file/,
    );
    const zero = path.join(pki.dir, 'zero.crl');
    fs.symlinkSync('/dev/zero', zero);
    await assert.rejects(
      startTestServer({ env: { ...FAST_KEYS, ...env(zero) } }),
      /ZGW_AUTH_TLS_CRL .*zero\.crl: not a regular file/,
    );
  });
});

describe('secrets of a client without a secret method', () => {
  let ts: TestServer;
  let adminToken: string;
  const masterKey = Buffer.alloc(32, 9).toString('base64');
  const admin = (method: string, url: string, body?: unknown) =>
    request(`${ts.url}/admin${url}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  before(async () => {
    ts = await startTestServer({ env: FAST_KEYS, masterKey });
    adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
  });
  after(() => ts?.close());

  it('a secret rotated while its last secret method is removed is revoked too, not left to come back', async () => {
    const { clientId } = await ts.createClient({ authMethods: ['client_secret_basic', 'private_key_jwt'] });
    // Two administrators at once (the admin API's PATCH and POST .../secrets call exactly these):
    // one moves the client to keys only, the other rotates its secret. update() reads the live
    // secrets, then stores the client, then revokes the ones it read: the rotated one is not among them.
    const [, rotated] = await Promise.all([
      ts.app.clients.update(clientId, { authMethods: ['private_key_jwt'] }, { id: 'admin-a' }),
      ts.app.clients.addSecret(clientId, { label: 'rotation' }, { id: 'admin-b' }),
    ]);
    assert.deepEqual((await ts.app.clients.get(clientId)).authMethods, ['private_key_jwt']);
    const live = (await admin('GET', `/clients/${clientId}/secrets`)).json as {
      secretId: string;
      revokedAt: number | null;
    }[];
    const back = await admin('PATCH', `/clients/${clientId}`, { authMethods: ['client_secret_basic'] });
    assert.equal(back.status, 200, back.text);
    const res = await postForm(
      `${ts.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(clientId, rotated.value) },
    );
    assert.equal(
      res.status,
      401,
      `a key-only client kept a live secret (${JSON.stringify(live.filter((s) => s.revokedAt === null))}); ` +
        `adding a secret method brought it back without the "create one" warning (${JSON.stringify(back.json.warnings)})`,
    );
  });

  it('an import of a key-only client that carries live secrets leaves none live', async () => {
    const { clientId, secret } = await ts.createClient({ authMethods: ['client_secret_basic'] });
    const exported = JSON.parse(JSON.stringify(await exportRegistry(ts.app.transfer))) as {
      tables: Record<string, Array<Record<string, unknown>>>;
    };
    // The file as an earlier version (before secrets were revoked for key-only clients) or an
    // edited copy may hold it: the client is key-only, its secret row is live.
    const row = exported.tables.clients!.find((r) => r.client_id === clientId)!;
    row.auth_methods = JSON.stringify(['private_key_jwt']);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-key-only-import-'));
    const target = await createApp(loadConfig({ ZGW_AUTH_DATA_DIR: dataDir, ZGW_AUTH_MASTER_KEY: masterKey }), {
      log: createLogger('warn'),
    });
    try {
      await importRegistry(target.transfer, exported);
      const live = (await target.clients.listSecrets(clientId)).filter((s) => s.revokedAt === null);
      assert.deepEqual(live, [], 'imported as a key-only client with a live secret');
      const { warnings } = await target.clients.update(
        clientId,
        { authMethods: ['private_key_jwt', 'client_secret_basic'] },
        { id: 'test' },
      );
      const found = await target.authenticator.authenticate(clientId, secret, 'client_secret_basic');
      assert.equal(
        found.ok,
        false,
        `the imported secret works after a secret method is added (warnings: ${warnings.join('; ')})`,
      );
    } finally {
      await target.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
