import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { migratedPostgres, startServeProcess } from './helpers.js';
import { startRsyslog } from './rsyslog.js';
import {
  adminToken,
  allArrived,
  auditTrail,
  BATCH,
  checkArrivals,
  createClient,
  metric,
  syslogArrivals,
  token,
  until,
} from './audit-siem.js';

// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

describe('audit events to a SIEM: two processes on one PostgreSQL database, Debian rsyslog as the receiver', () => {
  it('each event is shipped by one of them, in order; when that one is killed the other takes over and nothing is lost', async (t) => {
    const rs = await startRsyslog();
    t.after(() => rs.destroy());
    const db = await migratedPostgres();
    t.after(() => db.drop());
    const env = {
      DATABASE_URL: db.url,
      ...FAST_KEYS,
      ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
      ZGW_AUTH_AUDIT_SYSLOG_URL: `tcp://127.0.0.1:${rs.port}`,
    };
    const dir = () => {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-siem-pg-'));
      t.after(() => fs.rmSync(d, { recursive: true, force: true }));
      return d;
    };
    // The first start makes the administrator; the second process starts on the registry it made.
    const a = await startServeProcess(dir(), env);
    t.after(() => a.stop('SIGKILL'));
    const b = await startServeProcess(dir(), env);
    t.after(() => b.stop('SIGKILL'));
    const admin = await adminToken(a);
    const secretA = await createClient(a.url, admin.token, 'siem-a');
    const secretB = await createClient(a.url, admin.token, 'siem-b');
    // Tokens of siem-a from process a, of siem-b from process b, interleaved: both write events.
    for (let i = 0; i < 10; i++) {
      await token(a.url, 'siem-a', secretA);
      await token(b.url, 'siem-b', secretB);
    }
    // Each process's own events are written in order: per client, in order of id.
    const byClient = (e: { actor: string }) => e.actor === 'siem-a' || e.actor === 'siem-b';
    const check = (trail: Awaited<ReturnType<typeof auditTrail>>, duplicates: number) => {
      const arrivals = syslogArrivals(rs.received());
      checkArrivals(arrivals, trail, { duplicates, order: (e) => e.actor === 'siem-a' });
      checkArrivals(arrivals, trail, { duplicates, order: (e) => e.actor === 'siem-b' });
      assert.ok(trail.filter(byClient).length >= 20);
    };
    let trail = await auditTrail(a.url, admin.token);
    // Events are written in batches a moment later: the trail must hold all 20 tokens before it is compared.
    await until('every event in the trail and at rsyslog', async () => {
      trail = await auditTrail(a.url, admin.token);
      return trail.filter(byClient).length >= 20 && allArrived(syslogArrivals(rs.received()), trail);
    });
    // No failure, no takeover: each event exactly once.
    check(trail, 0);

    const held = async (url: string) => metric(url, 'zgw_auth_audit_sink_held', { sink: 'syslog' });
    const [heldA, heldB] = [await held(a.url), await held(b.url)];
    assert.equal(heldA + heldB, 1, 'one process ships the sink');
    const [holder, other, otherSecret, otherClient] =
      heldA === 1 ? [a, b, secretB, 'siem-b'] : [b, a, secretA, 'siem-a'];
    const shipped = await metric(holder.url, 'zgw_auth_audit_shipping_total', { sink: 'syslog', outcome: 'shipped' });
    assert.ok(shipped >= trail.length - 5, String(shipped));
    assert.equal(await metric(other.url, 'zgw_auth_audit_shipping_total', { sink: 'syslog', outcome: 'shipped' }), 0);

    // The shipping process dies; events keep being written by the other, which takes the sink over once the lease lapses.
    await holder.stop('SIGKILL');
    for (let i = 0; i < 10; i++) await token(other.url, otherClient, otherSecret);
    const otherAdmin = await adminToken(other, admin.secret);
    await until('every event in the trail and at rsyslog after the takeover', async () => {
      trail = await auditTrail(other.url, otherAdmin.token);
      return trail.filter(byClient).length >= 30 && allArrived(syslogArrivals(rs.received()), trail);
    });
    check(trail, BATCH);
    assert.equal(await held(other.url), 1, 'the other process ships the sink now');
    await until('the takeover is logged', () => other.output().includes('audit shipping: this process ships the sink'));
  });
});
