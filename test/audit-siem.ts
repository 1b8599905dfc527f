import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { AuditEvent } from '../src/audit/audit-store.js';
import { BATCH } from '../src/audit/audit-shipping.js';
import { firstAdminSecret, postForm, request } from './helpers.js';
import { type Received, type Rsyslog, sd } from './rsyslog.js';

/** Bounded waits: generous for a busy machine, never asserted as durations. */
export const WAIT = 45_000;

/** A running `serve` process as startServeProcess returns it. */
export interface Serve {
  url: string;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function token(url: string, clientId: string, secret: string): Promise<string> {
  const res = await postForm(`${url}/token`, {
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: secret,
  });
  assert.equal(res.status, 200, res.text);
  return res.json.access_token as string;
}

/** A failed authentication (a wrong secret): audited as client_auth.failed, folded with its repeats. */
export async function wrongSecret(url: string, clientId: string): Promise<void> {
  const res = await postForm(`${url}/token`, {
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: 'not-the-secret-at-all-0000',
  });
  assert.equal(res.status, 401, res.text);
}

export async function adminToken(s: Serve, secret?: string): Promise<{ token: string; secret: string }> {
  const adminSecret = secret ?? firstAdminSecret(s.output());
  assert.ok(adminSecret, 'the first start showed the administrator secret');
  return { token: await token(s.url, 'zgw-auth-admin', adminSecret), secret: adminSecret };
}

export async function createClient(url: string, admin: string, clientId: string): Promise<string> {
  const res = await request(`${url}/admin/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ clientId, rsin: '000000000' }),
  });
  assert.equal(res.status, 201, res.text);
  return res.json.secret.value as string;
}

/** The whole audit trail through the admin API, oldest first (listing writes the counts of folded events first). */
export async function auditTrail(url: string, admin: string): Promise<AuditEvent[]> {
  const res = await request(`${url}/admin/audit?limit=1000`, { headers: { authorization: `Bearer ${admin}` } });
  assert.equal(res.status, 200, res.text);
  return (res.json.items as AuditEvent[]).sort((a, b) => a.id - b.id);
}

/** A metric's value in a process's /metrics (0 when not there). */
export async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = (await request(`${url}/metrics`)).text;
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const has = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => has[k] === v)) return Number(m[3]);
  }
  return 0;
}

/** Polls `check` until it holds; after `ms`, fails naming `what` (a function: read then, e.g. a process's output). */
export async function until(
  what: string | (() => string),
  check: () => Promise<boolean> | boolean,
  ms = WAIT,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`not within ${ms / 1000} s: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An event as a sink delivered it, reduced to what the trail holds. */
export interface Arrival {
  id: number;
  event: AuditEvent;
}

/** The audit events among the messages rsyslog received, in the order they arrived; each checked against RFC 5424's header. */
export function syslogArrivals(received: Received[]): Arrival[] {
  return received.map((r) => {
    const p = sd(r);
    const event: AuditEvent = {
      id: Number(p.id),
      at: Date.parse(r.timereported),
      actor: p.actor!,
      action: p.action!,
      target: p.target!,
      address: p.address ?? null,
      reason: p.reason ?? null,
      details: JSON.parse(p.details!) as Record<string, unknown>,
      organisation: p.organisation ?? null,
    };
    assert.equal(r['app-name'], 'zgw-auth');
    assert.equal(r.msgid, event.action, 'MSGID is the action');
    assert.equal(r.syslogfacility, '10', 'authpriv');
    assert.equal(r.syslogseverity, event.reason !== null ? '4' : event.action === 'token.issued' ? '6' : '5');
    assert.equal(r.timereported, new Date(event.at).toISOString());
    assert.ok(r.msg.startsWith(`${event.action} ${event.target} by ${event.actor}`), r.msg);
    return { id: event.id, event };
  });
}

/** The audit events of a JSON lines file, in the order they were written. */
export function jsonLineArrivals(file: string): Arrival[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const j = JSON.parse(line) as AuditEvent & { type: string; time: string };
      assert.equal(j.type, 'zgw-auth.audit');
      assert.equal(j.time, new Date(j.at).toISOString());
      const { type: _type, time: _time, ...event } = j;
      return { id: event.id, event };
    });
}

/** Whether every event of `trail` has arrived, as it is now (a folded event's last arrival has its final count). */
export function allArrived(arrivals: Arrival[], trail: AuditEvent[]): boolean {
  const last = new Map(arrivals.map((a) => [a.id, a.event]));
  return trail.every((e) => last.has(e.id) && JSON.stringify(last.get(e.id)!.details) === JSON.stringify(e.details));
}

/**
 * Every event of `trail` arrived with every field as the trail has it (its last arrival: a folded
 * event comes again when its count grows), in order (the first arrival of each event after the
 * first arrival of every event before it: `order` picks whose events count, by default all), and
 * anything delivered twice (a batch whose delivery was not confirmed) at most `duplicates` times.
 */
export function checkArrivals(
  arrivals: Arrival[],
  trail: AuditEvent[],
  options: { duplicates?: number; order?: (e: AuditEvent) => boolean } = {},
): void {
  const last = new Map(arrivals.map((a) => [a.id, a.event]));
  for (const e of trail)
    assert.deepEqual(last.get(e.id), e, `event ${e.id} (${e.action}) arrived as it is in the trail`);
  const firsts: number[] = [];
  const before = new Map<number, string>();
  let duplicates = 0;
  for (const a of arrivals) {
    const details = JSON.stringify(a.event.details);
    const earlier = before.get(a.id);
    before.set(a.id, details);
    // Again with other details: a folded event whose count grew, not a duplicate.
    if (earlier !== undefined) {
      if (earlier === details) duplicates++;
      continue;
    }
    if (!options.order || options.order(a.event)) firsts.push(a.id);
  }
  assert.deepEqual(
    firsts,
    [...firsts].sort((x, y) => x - y),
    'events arrive in the order they were written',
  );
  assert.ok(duplicates <= (options.duplicates ?? 0), `${duplicates} events arrived twice`);
}

/** No secret and no token issued in the test ever reaches a sink. */
export function assertNothingSecret(texts: string[], secrets: string[]): void {
  for (const text of texts)
    for (const secret of secrets) assert.ok(!text.includes(secret), 'a secret or token reached a sink');
}

export { BATCH };
export type { Rsyslog };
