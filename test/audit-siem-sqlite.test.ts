import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { AuditEvent } from '../src/audit/audit-store.js';
import { CLI, startServeProcess } from './helpers.js';
import { makeTestPki } from './pki/test-pki.js';
import { startRsyslog } from './rsyslog.js';
import { freePort } from './services.js';
import {
  adminToken,
  allArrived,
  assertNothingSecret,
  auditTrail,
  BATCH,
  checkArrivals,
  createClient,
  jsonLineArrivals,
  metric,
  syslogArrivals,
  token,
  until,
  wrongSecret,
} from './audit-siem.js';

const run = promisify(execFile);

// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

function dataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-siem-'));
  return dir;
}

describe('audit events to a SIEM: Debian rsyslog as the receiver, SQLite', () => {
  it('plain TCP and a JSON lines file: every event in order with its fields, across a receiver restart and a zgw-auth restart', async (t) => {
    const rs = await startRsyslog();
    t.after(() => rs.destroy());
    const dir = dataDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const jsonl = path.join(dir, 'audit.jsonl');
    const env = {
      ...FAST_KEYS,
      ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
      ZGW_AUTH_AUDIT_SYSLOG_URL: `tcp://127.0.0.1:${rs.port}`,
      ZGW_AUTH_AUDIT_JSONL: jsonl,
    };
    let z = await startServeProcess(dir, env);
    t.after(() => z.stop('SIGKILL'));
    let admin = await adminToken(z);
    const secrets = [admin.secret, admin.token];
    const secret = await createClient(z.url, admin.token, 'siem-app');
    secrets.push(secret);
    for (let i = 0; i < 5; i++) secrets.push(await token(z.url, 'siem-app', secret));
    for (let i = 0; i < 3; i++) await wrongSecret(z.url, 'siem-app');
    // One admin token for every listing: a new one would be a new event each time.
    // `written`: the events the trail must hold first, as they are written in batches a moment later.
    const arrived = async (duplicates: number, written: (trail: AuditEvent[]) => boolean) => {
      let trail = await auditTrail(z.url, admin.token);
      await until('every event in the trail, at rsyslog and in the JSON lines file', async () => {
        trail = await auditTrail(z.url, admin.token);
        return (
          written(trail) &&
          allArrived(syslogArrivals(rs.received()), trail) &&
          allArrived(jsonLineArrivals(jsonl), trail)
        );
      });
      checkArrivals(syslogArrivals(rs.received()), trail, { duplicates });
      checkArrivals(jsonLineArrivals(jsonl), trail, { duplicates });
      return trail;
    };
    const firstWritten = (trail: AuditEvent[]) =>
      trail.some((e) => e.action === 'client_auth.failed' && e.details.count === 3) &&
      trail.filter((e) => e.action === 'token.issued').length >= 6;
    const first = await arrived(0, firstWritten);
    assert.ok(firstWritten(first), 'a folded failure, counted, and every token issued');
    assert.equal(fs.statSync(jsonl).mode & 0o777, 0o600, 'the JSON lines file is owner-only');

    // The receiver away: events wait in the audit trail and arrive when it is back.
    await rs.stop();
    const away = await createClient(z.url, admin.token, 'siem-while-away');
    secrets.push(away);
    for (let i = 0; i < 5; i++) secrets.push(await token(z.url, 'siem-while-away', away));
    await until('a failed delivery is logged', () => z.output().includes('audit shipping: delivery failed'));
    assert.ok((await metric(z.url, 'zgw_auth_audit_shipping_total', { sink: 'syslog', outcome: 'failed' })) >= 1);
    await rs.start();
    const secondWritten = (trail: AuditEvent[]) =>
      trail.filter((e) => e.target === 'siem-while-away' && e.action === 'token.issued').length >= 5;
    const second = await arrived(BATCH, secondWritten);
    assert.ok(secondWritten(second), 'every token issued while the receiver was away');
    // The log line went out with the delivery; the pipe from the process may bring it a moment later.
    await until('the receiver’s return is logged', () =>
      z.output().includes('audit shipping: the receiver takes events again'),
    );

    // zgw-auth killed, events written by the CLI while it is down, started again: the position resumes.
    for (let i = 0; i < 3; i++) secrets.push(await token(z.url, 'siem-app', secret));
    await z.stop('SIGKILL');
    const cliEnv = { ...process.env, ZGW_AUTH_DATA_DIR: dir, ...env };
    const made = JSON.parse(
      (
        await run(
          process.execPath,
          [CLI, 'clients', 'create', '--client-id', 'siem-offline', '--rsin', '000000000', '--json'],
          { env: cliEnv },
        )
      ).stdout,
    ) as { client_secret: string };
    secrets.push(made.client_secret);
    z = await startServeProcess(dir, env);
    // Another port, so another issuer: a new admin token.
    admin = await adminToken(z, admin.secret);
    secrets.push(admin.token);
    const thirdWritten = (trail: AuditEvent[]) =>
      trail.some((e) => e.action === 'client.created' && e.target === 'siem-offline');
    const third = await arrived(2 * BATCH, thirdWritten);
    assert.ok(thirdWritten(third), 'the event the CLI wrote while the server was down');
    assertNothingSecret(
      [fs.readFileSync(path.join(rs.dir, 'received.jsonl'), 'utf8'), fs.readFileSync(jsonl, 'utf8')],
      secrets,
    );
  });

  it('a sink setting that cannot serve stops serve with its name; other commands never touch the sinks', async (t) => {
    const dir = dataDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const env = { ...FAST_KEYS, ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64') };
    const cliEnv = { ...process.env, ZGW_AUTH_DATA_DIR: dir, ...env };
    for (const [bad, says] of [
      [
        { ZGW_AUTH_AUDIT_JSONL: path.join(dir, 'no-such-folder', 'audit.jsonl') },
        /ZGW_AUTH_AUDIT_JSONL .* cannot be written: ENOENT/,
      ],
      [
        { ZGW_AUTH_AUDIT_SYSLOG_URL: 'tls://127.0.0.1:6514', ZGW_AUTH_AUDIT_SYSLOG_CA: path.join(dir, 'missing.pem') },
        /ZGW_AUTH_AUDIT_SYSLOG_CA .* cannot be read: ENOENT/,
      ],
    ] as const) {
      await assert.rejects(startServeProcess(dir, { ...env, ...bad }), (err: Error) => {
        assert.match(err.message, says);
        assert.match(err.message, /^exited [1-9]/);
        return true;
      });
      // A CLI command with the same settings works: only serve ships.
      await run(process.execPath, [CLI, 'clients', 'list', '--json'], { env: { ...cliEnv, ...bad } });
    }
  });

  it('JSON lines to stdout: every event, next to the log lines and told apart by its type', async (t) => {
    const dir = dataDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const z = await startServeProcess(dir, {
      ...FAST_KEYS,
      ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
      ZGW_AUTH_AUDIT_JSONL: 'stdout',
    });
    t.after(() => z.stop('SIGKILL'));
    const admin = await adminToken(z);
    const secret = await createClient(z.url, admin.token, 'stdout-app');
    await token(z.url, 'stdout-app', secret);
    const trail = await auditTrail(z.url, admin.token);
    const arrivals = () => {
      const file = path.join(dir, 'stdout.jsonl');
      fs.writeFileSync(
        file,
        z
          .output()
          .split('\n')
          .filter((l) => l.includes('"type":"zgw-auth.audit"'))
          .join('\n'),
      );
      return jsonLineArrivals(file);
    };
    await until('every event on stdout', () => allArrived(arrivals(), trail));
    checkArrivals(arrivals(), trail);
    assert.ok(z.output().includes('"msg":"zgw-auth listening"'), 'the log lines are there too');
  });

  it('the backlog bound: beyond ZGW_AUTH_AUDIT_BACKLOG_MAX the oldest are dropped, counted and logged; the newest arrive', async (t) => {
    const port = await freePort();
    const dir = dataDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const z = await startServeProcess(dir, {
      ...FAST_KEYS,
      ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
      ZGW_AUTH_AUDIT_SYSLOG_URL: `tcp://127.0.0.1:${port}`,
      ZGW_AUTH_AUDIT_BACKLOG_MAX: '5',
    });
    t.after(() => z.stop('SIGKILL'));
    const admin = await adminToken(z);
    const secret = await createClient(z.url, admin.token, 'bound-app');
    for (let i = 0; i < 12; i++) await token(z.url, 'bound-app', secret);
    const trail = await auditTrail(z.url, admin.token);
    assert.ok(trail.length > 15, String(trail.length));
    const dropped = () => metric(z.url, 'zgw_auth_audit_shipping_total', { sink: 'syslog', outcome: 'dropped' });
    await until('the oldest events beyond the bound are dropped', async () => (await dropped()) === trail.length - 5);
    const lines = () =>
      z
        .output()
        .split('\n')
        .filter((l) => l.includes('more events waited than ZGW_AUTH_AUDIT_BACKLOG_MAX'));
    // Every dropped event is in a log line (read from the process's pipe, which may lag a moment).
    const logged = () => lines().reduce((n, l) => n + (JSON.parse(l) as { dropped: number }).dropped, 0);
    await until('the loss is logged', () => logged() >= trail.length - 5);
    assert.equal(logged(), trail.length - 5, 'every dropped event is in a log line, once');
    assert.ok(lines().every((l) => (JSON.parse(l) as { level: number }).level === 40));

    const rs = await startRsyslog(undefined, port);
    t.after(() => rs.destroy());
    await until('the newest events arrive', () => syslogArrivals(rs.received()).length >= 5);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(
      syslogArrivals(rs.received()).map((a) => a.event),
      trail.slice(-5),
      'the newest five, in order, nothing older',
    );
    assert.equal(await dropped(), trail.length - 5);
  });

  it('TLS: a receiver verified against ZGW_AUTH_AUDIT_SYSLOG_CA (gtls), one requiring a client certificate (ossl); one whose certificate does not chain to the CA gets nothing', async (t) => {
    const pki = makeTestPki();
    t.after(() => pki.remove());
    const server = pki.certs.server;
    const gtls = await startRsyslog({
      driver: 'gtls',
      authMode: 'anon',
      caFile: pki.anchorsPath,
      certFile: server.chainPath,
      keyFile: server.keyPath,
    });
    t.after(() => gtls.destroy());
    const ossl = await startRsyslog({
      driver: 'ossl',
      authMode: 'x509/certvalid',
      caFile: pki.bundlePath,
      certFile: server.chainPath,
      keyFile: server.keyPath,
    });
    t.after(() => ossl.destroy());
    const start = async (env: Record<string, string>) => {
      const dir = dataDir();
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      const z = await startServeProcess(dir, {
        ...FAST_KEYS,
        ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
        ...env,
      });
      t.after(() => z.stop('SIGKILL'));
      return z;
    };
    const [verified, mutual, untrusted] = await Promise.all([
      start({ ZGW_AUTH_AUDIT_SYSLOG_URL: `tls://localhost:${gtls.port}`, ZGW_AUTH_AUDIT_SYSLOG_CA: pki.anchorsPath }),
      start({
        ZGW_AUTH_AUDIT_SYSLOG_URL: `tls://127.0.0.1:${ossl.port}`,
        ZGW_AUTH_AUDIT_SYSLOG_CA: pki.anchorsPath,
        ZGW_AUTH_AUDIT_SYSLOG_CERT: pki.certs.client.chainPath,
        ZGW_AUTH_AUDIT_SYSLOG_KEY: pki.certs.client.keyPath,
      }),
      // The receiver is the gtls one; the CA given is another hierarchy's root.
      start({ ZGW_AUTH_AUDIT_SYSLOG_URL: `tls://localhost:${gtls.port}`, ZGW_AUTH_AUDIT_SYSLOG_CA: pki.otherRootPath }),
    ]);
    for (const [z, rs] of [
      [verified, gtls],
      [mutual, ossl],
    ] as const) {
      const admin = await adminToken(z);
      const trail = await auditTrail(z.url, admin.token);
      await until('every event over TLS', () => allArrived(syslogArrivals(rs.received()), trail));
      checkArrivals(syslogArrivals(rs.received()), trail);
    }
    await until(
      () => `the untrusted receiver is refused, logged:\n${untrusted.output().slice(-3000)}`,
      () =>
        untrusted
          .output()
          .split('\n')
          .some((l) => l.includes('audit shipping: delivery failed') && /issuer certificate|UNABLE_TO_/.test(l)),
    );
    assert.ok(
      (await metric(untrusted.url, 'zgw_auth_audit_shipping_total', { sink: 'syslog', outcome: 'failed' })) >= 1,
    );
    assert.equal(
      await metric(untrusted.url, 'zgw_auth_audit_shipping_total', { sink: 'syslog', outcome: 'shipped' }),
      0,
    );
    // Its first administrator's applicatie has a uuid of its own: not one message of it at the receiver.
    const untrustedTrail = await auditTrail(untrusted.url, (await adminToken(untrusted)).token);
    const own = untrustedTrail.find((e) => e.action === 'applicatie.created')!.target;
    assert.ok(
      !gtls.received().some((r) => r.rawmsg.includes(own)),
      'nothing of the untrusted connection reached the receiver',
    );
  });
});
