// CPU time per audit event shipped (node dist/bench/audit-micro.js '{"rounds":3,"events":20000,"dir":"…"}'):
// a SQLite audit trail with a backlog of token.issued events, shipped by AuditShipping to a syslog
// receiver in this process (reading and dropping the bytes, as a receiver elsewhere would) and/or a
// JSON lines file, until all have arrived. Prints {name: [µs per event, …]} as JSON.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AuditShipping, type AuditSink } from '../src/audit/audit-shipping.js';
import { JsonLinesSink } from '../src/audit/json-lines-sink.js';
import { SyslogSink } from '../src/audit/syslog-sink.js';
import { KyselyAuditFeed } from '../src/storage/kysely-audit-feed.js';
import { KyselyAuditStore } from '../src/storage/kysely-audit-store.js';
import { openStorage } from '../src/storage/open-storage.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as { rounds?: number; events?: number; dir?: string };
const rounds = spec.rounds ?? 3;
const n = spec.events ?? 20_000;
const base = spec.dir ?? fs.mkdtempSync('/tmp/zgw-audit-micro-');

const receiver = net.createServer((s) => {
  s.on('data', () => {});
  s.on('error', () => {});
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const port = (receiver.address() as net.AddressInfo).port;

async function once(which: 'syslog' | 'jsonl' | 'both', round: number): Promise<number> {
  const dir = path.join(base, `${which}-${round}`);
  fs.mkdirSync(dir, { recursive: true });
  const storage = await openStorage(undefined, dir);
  try {
    const feed = new KyselyAuditFeed(storage.db, storage.dialect);
    const sinks: AuditSink[] = [];
    if (which !== 'jsonl')
      sinks.push(new SyslogSink({ protocol: 'tcp', host: '127.0.0.1', port, connectTimeoutMs: 4000 }, 'bench'));
    if (which !== 'syslog') sinks.push(new JsonLinesSink(path.join(dir, 'audit.jsonl')));
    for (const s of sinks) await feed.ensureSink(s.name, Date.now());
    const rows: (string | number | null)[] = [];
    for (let i = 0; i < n; i++)
      rows.push(
        Date.now(),
        `bench-${i % 10}`,
        'token.issued',
        `bench-${i % 10}`,
        '127.0.0.1',
        null,
        JSON.stringify({ jti: `aWJPV2eCu5ZL1B51PaqwsA${i}`, scope: 'zaken.lezen', expiresIn: 3600 }),
        '000000000',
      );
    await new KyselyAuditStore(storage.db, storage.dialect).append(rows);
    let shipped = 0;
    const shipping = new AuditShipping({
      feed,
      sinks,
      backlogMax: 10 * n,
      holder: 'bench',
      now: Date.now,
      log: () => {},
      counted: (_sink, outcome, k) => void (outcome === 'shipped' && (shipped += k)),
    });
    const before = process.cpuUsage();
    shipping.start();
    while (shipped < n * sinks.length) await new Promise((r) => setTimeout(r, 2));
    const used = process.cpuUsage(before);
    await shipping.stop();
    return (used.user + used.system) / n;
  } finally {
    await storage.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const out: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++)
  for (const which of ['syslog', 'jsonl', 'both'] as const)
    (out[
      `CPU per event shipped, ${which === 'both' ? 'syslog and JSON lines' : which === 'jsonl' ? 'JSON lines file' : 'syslog (TCP)'}`
    ] ??= []).push(await once(which, r));
receiver.close();
process.stdout.write(JSON.stringify(out));
