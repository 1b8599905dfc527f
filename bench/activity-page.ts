/**
 * The console's activity page on a busy registry: the report's queries (per hour, per client, per
 * organisation over the last 7 days) on a SQLite registry of 10 million audit events, as the
 * version before the hourly counts ran them (grouping audit_events) and as this one does (summing
 * audit_hourly_counts, which migration 0015 fills from the events).
 *
 *   npm run build && node dist/bench/activity-page.js [--events 10000000] [--clients 2000] [--keep DIR]
 *
 * Seeds the events directly with better-sqlite3 (migrated to 0014, the schema before the counts),
 * in transactions of 50,000 rows: 7 days of traffic, 92 % tokens issued, 8 % failed
 * authentications (one in ten folded with a count), clients spread over 200 organisations, a few
 * failures of unknown client ids without one. Prints JSON with the timings (median of the rounds),
 * and what keeping the counts costs the audit writer (writeOverhead).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, sql, SqliteDialect } from '#kysely';
import { HOUR_MS } from '../src/audit/activity.js';
import { Activity, ACTIVITY_HOURS } from '../src/audit/activity-report.js';
import type { ActivityQuery, ActivityStore } from '../src/audit/activity.js';
import type { AuditRows } from '../src/audit/audit-store.js';
import { KyselyActivityStore } from '../src/storage/kysely-activity-store.js';
import { KyselyAuditStore } from '../src/storage/kysely-audit-store.js';
import { migrate } from '../src/storage/migrations.js';
import type { Database } from '../src/storage/schema.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const EVENTS = Number(arg('events', '10000000'));
const CLIENTS = Number(arg('clients', '2000'));
const ORGS = 200;
const BATCH = 50_000;
const NOW = Date.UTC(2026, 2, 2, 9, 30);

/** The report's queries as the version before the counts ran them: grouped over audit_events. */
class RawEventsActivityStore implements ActivityStore {
  constructor(private readonly db: Kysely<Database>) {}
  private counts() {
    const w = sql<number>`coalesce(json_extract(a.details, '$.count'), 1)`;
    return [
      sql<number>`sum(case when a.action = 'token.issued' then 1 else 0 end)`.as('issued'),
      sql<number>`sum(case when a.action = 'client_auth.failed' then ${w} else 0 end)`.as('failed'),
    ] as const;
  }
  private base(query: ActivityQuery) {
    let q = this.db
      .selectFrom('audit_events as a')
      .where('a.at', '>=', query.since)
      .where('a.action', 'in', ['token.issued', 'client_auth.failed']);
    if (query.clientId !== undefined) q = q.where('a.target', '=', query.clientId);
    if (query.rsin !== undefined) q = q.where('a.organisation', '=', query.rsin);
    return q;
  }
  async perHour(query: ActivityQuery) {
    const hour = sql<number>`(a.at / ${sql.lit(HOUR_MS)})`;
    const rows = await this.base(query)
      .select([hour.as('h'), ...this.counts()])
      .groupBy(hour)
      .execute();
    return rows.map((r) => ({ hour: Number(r.h) * HOUR_MS, issued: Number(r.issued), failed: Number(r.failed) }));
  }
  async perClient(query: ActivityQuery, limit: number) {
    const rows = await this.base(query)
      .select(['a.target as clientId', 'a.organisation as rsin', ...this.counts()])
      .groupBy(['a.target', 'a.organisation'])
      .orderBy(sql`count(*)`, 'desc')
      .orderBy('a.target')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      clientId: r.clientId,
      rsin: r.rsin,
      issued: Number(r.issued),
      failed: Number(r.failed),
    }));
  }
  async perOrganisation(query: ActivityQuery, limit: number) {
    const rows = await this.base(query)
      .select(['a.organisation as rsin', ...this.counts()])
      .groupBy('a.organisation')
      .orderBy(sql`count(*)`, 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ rsin: r.rsin, issued: Number(r.issued), failed: Number(r.failed) }));
  }
}

const rsinOf = (i: number) => String(100000000 + i * 7);

function seed(file: string): { seconds: number } {
  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const insert = db.prepare(
    'insert into audit_events (at, actor, action, target, address, reason, details, organisation) values (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const span = ACTIVITY_HOURS * HOUR_MS;
  const started = process.hrtime.bigint();
  let random = 12345;
  const next = () => ((random = (random * 1103515245 + 12345) & 0x7fffffff), random / 0x80000000);
  const write = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      // Evenly over the 7 days, oldest first, as a registry writes them.
      const at = NOW - span + Math.floor((i / EVENTS) * span);
      const client = Math.floor(next() * CLIENTS);
      const clientId = `client-${client}`;
      const rsin = rsinOf(client % ORGS);
      const r = next();
      if (r < 0.92)
        insert.run(
          at,
          clientId,
          'token.issued',
          clientId,
          '10.0.0.1',
          null,
          '{"scope":"zaken.lezen","lifetime":3600}',
          rsin,
        );
      else if (r < 0.995)
        insert.run(
          at,
          clientId,
          'client_auth.failed',
          clientId,
          '10.0.0.2',
          'wrong_secret',
          r < 0.93 ? `{"lastAt":${at + 30000},"count":${2 + Math.floor(next() * 20)}}` : '{}',
          rsin,
        );
      else
        insert.run(
          at,
          'unknown',
          'client_auth.failed',
          `guess-${Math.floor(next() * 500)}`,
          '10.0.0.3',
          'unknown_client',
          '{}',
          null,
        );
    }
  });
  for (let i = 0; i < EVENTS; i += BATCH) write(i, Math.min(EVENTS, i + BATCH));
  db.close();
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** Median wall time and CPU time (ms) of `rounds` runs: the queries run in this process (better-sqlite3), so
 * the CPU time is their cost even on a machine shared with other work. */
async function time(fn: () => Promise<unknown>, rounds: number): Promise<{ wallMs: number; cpuMs: number }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = process.hrtime.bigint();
    const c = process.cpuUsage();
    await fn();
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
    wall.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const median = (xs: number[]) => Math.round(xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]! * 10) / 10;
  return { wallMs: median(wall), cpuMs: median(cpu) };
}

/**
 * What keeping the counts adds to the audit writer: 200,000 events appended through the audit
 * store in batches of 100 (as the token endpoint's buffer writes them), token.issued events of 50
 * clients per batch (counted) against the same rows with an action that is not counted (written as
 * before the counts). CPU ms per 1,000 events, the median of 3 alternated rounds.
 */
async function writeOverhead(dir: string): Promise<{ countedCpuMsPer1000: number; uncountedCpuMsPer1000: number }> {
  const file = path.join(dir, 'writes.db');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SQLite(file) }) });
  await migrate(db, 'sqlite');
  const store = new KyselyAuditStore(db, 'sqlite');
  const batch = (action: string, at: number): AuditRows =>
    Array.from({ length: 100 }, (_, i) => [
      at + i,
      `client-${i % 50}`,
      action,
      `client-${i % 50}`,
      '10.0.0.1',
      null,
      '{"scope":"zaken.lezen","lifetime":3600}',
      rsinOf(i % 50),
    ]).flat();
  const round = async (action: string) => {
    const c = process.cpuUsage();
    for (let b = 0; b < 2000; b++) await store.append(batch(action, NOW + b * 1000));
    const used = process.cpuUsage(c);
    return (used.user + used.system) / 1000 / 200;
  };
  const counted: number[] = [];
  const uncounted: number[] = [];
  for (let r = 0; r < 3; r++) {
    counted.push(await round('token.issued'));
    uncounted.push(await round('client.updated'));
  }
  await db.destroy();
  const median = (xs: number[]) => Math.round(xs.sort((a, b) => a - b)[1]! * 100) / 100;
  return { countedCpuMsPer1000: median(counted), uncountedCpuMsPer1000: median(uncounted) };
}

async function main() {
  const dir = arg('keep', '') || fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-activity-bench-'));
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'zgw-auth.db');
  const open = () => new Kysely<Database>({ dialect: new SqliteDialect({ database: new SQLite(file) }) });
  try {
    let db = open();
    await migrate(db, 'sqlite', '0014_notification_outbox');
    await db.destroy();
    const seeded = seed(file);
    const report = (store: ActivityStore) => new Activity(store, { flush: async () => {} }, () => NOW);
    db = open();
    const before = report(new RawEventsActivityStore(db));
    const rounds = Number(arg('rounds', '3'));
    const beforeMs = {
      all: await time(() => before.report(), rounds),
      organisation: await time(() => before.report({ rsin: rsinOf(7) }), rounds),
      client: await time(() => before.report({ clientId: 'client-7' }), rounds),
    };
    const raw = await before.report();
    const t = process.hrtime.bigint();
    await migrate(db, 'sqlite');
    const migrationSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    const after = report(new KyselyActivityStore(db));
    const afterMs = {
      all: await time(() => after.report(), rounds * 5),
      organisation: await time(() => after.report({ rsin: rsinOf(7) }), rounds * 5),
      client: await time(() => after.report({ clientId: 'client-7' }), rounds * 5),
    };
    // Where the whole registry's report spends it, query by query.
    const store = new KyselyActivityStore(db);
    const since = (Math.floor(NOW / HOUR_MS) - (ACTIVITY_HOURS - 1)) * HOUR_MS;
    const afterQueriesMs = {
      perHour: await time(() => store.perHour({ since }), rounds * 5),
      perClient: await time(() => store.perClient({ since }, 20), rounds * 5),
      perOrganisation: await time(() => store.perOrganisation({ since }, 20), rounds * 5),
    };
    const counted = await after.report();
    const sum = (r: typeof raw) => r.hours.reduce((s, h) => s + h.issued + h.failed, 0);
    const { n } = await db
      .selectFrom('audit_hourly_counts')
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    await db.destroy();
    const writes = await writeOverhead(dir);
    console.log(
      JSON.stringify(
        {
          events: EVENTS,
          clients: CLIENTS,
          organisations: ORGS,
          seedSeconds: Math.round(seeded.seconds),
          databaseBytes: fs.statSync(file).size,
          beforeMs,
          migrationSeconds: Math.round(migrationSeconds * 10) / 10,
          countRows: Number(n),
          afterMs,
          afterQueriesMs,
          writes,
          sameHours: JSON.stringify(raw.hours) === JSON.stringify(counted.hours),
          totals: { before: sum(raw), after: sum(counted) },
        },
        null,
        2,
      ),
    );
  } finally {
    if (!arg('keep', '')) fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
