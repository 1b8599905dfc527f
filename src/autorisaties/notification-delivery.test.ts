import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { NotificationDelivery } from './notification-delivery.js';
import { type NotificationOutbox, notificatie, type OutboxEntry } from './notifications.js';

interface Row extends OutboxEntry {
  claimedUntil: number | null;
}

/** The outbox's contract in memory (as the SQL one keeps it), each claim kept per row. */
class MemoryOutbox implements NotificationOutbox {
  rows: Row[] = [];
  async claim(now: number, leaseUntil: number, limit: number): Promise<OutboxEntry[]> {
    const taken = this.rows.filter((r) => r.claimedUntil === null || r.claimedUntil <= now).slice(0, limit);
    for (const r of taken) r.claimedUntil = leaseUntil;
    return taken.map(({ claimedUntil, ...e }) => e);
  }
  async extend(ids: readonly number[], heldUntil: number, until: number): Promise<number[]> {
    const held = this.rows.filter((r) => ids.includes(r.id) && r.claimedUntil === heldUntil);
    for (const r of held) r.claimedUntil = until;
    return held.map((r) => r.id);
  }
  async delivered(id: number): Promise<void> {
    this.rows = this.rows.filter((r) => r.id !== id);
  }
  async retryAt(id: number): Promise<void> {
    this.rows.find((r) => r.id === id)!.claimedUntil = null;
  }
  async failed(id: number): Promise<void> {
    await this.delivered(id);
  }
  async release(ids: readonly number[]): Promise<void> {
    for (const r of this.rows) if (ids.includes(r.id)) r.claimedUntil = null;
  }
  async depth(): Promise<number> {
    return this.rows.length;
  }
}

const TIMEOUT = 3000;
const BATCH = 10;

/**
 * A Notificaties API on which each notification takes the whole request timeout, on a clock the
 * test moves (`took` says how long each one took): what the claim of each row covers when it is
 * sent is then exact, without waiting.
 */
async function slowReceiver(clock: { t: number }, took: (resourceUrl: string) => number) {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.url?.startsWith('/kanaal')) {
        res.end(req.method === 'GET' ? '[{"naam":"autorisaties"}]' : '{}');
        return;
      }
      // Read after the call: `took` may move the clock itself.
      const duration = took((JSON.parse(body) as { resourceUrl: string }).resourceUrl);
      clock.t += duration;
      res.statusCode = 201;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

/** The outbox delivered to a receiver until `done`; the rows sent, as they were when sent. */
async function deliver(outbox: MemoryOutbox, clock: { t: number }, done: () => boolean, took: (row: Row) => number) {
  const sent: Row[] = [];
  const receiver = await slowReceiver(clock, (resourceUrl) => {
    const row = outbox.rows.find((r) => r.message.resourceUrl === resourceUrl)!;
    sent.push({ ...row });
    return took(row);
  });
  const delivery = new NotificationDelivery(outbox, {
    baseUrl: receiver.url,
    clientId: 'zgw-auth',
    secret: 'a-secret-of-sixteen-or-more',
    timeoutMs: TIMEOUT,
    retryMaxMs: 1000,
    documentatieLink: () => 'https://ac.example',
    now: () => clock.t,
    log: () => {},
    counted: () => {},
  });
  try {
    delivery.start();
    const end = Date.now() + 10_000;
    while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  } finally {
    await delivery.stop();
    await new Promise((r) => receiver.server.close(r));
  }
  return sent;
}

function rows(outbox: MemoryOutbox, n: number, at: number) {
  for (let id = 1; id <= n; id++)
    outbox.rows.push({
      id,
      applicatie: `a${id}`,
      message: notificatie(`https://ac.example/applicaties/a${id}`, 'create', at),
      attempts: 0,
      claimedUntil: null,
    });
}

describe('notification delivery: claims', () => {
  it('each row of a full batch is held by its claim for as long as its request may take', async () => {
    const clock = { t: 1_000_000 };
    const outbox = new MemoryOutbox();
    rows(outbox, BATCH, clock.t);
    // The claim must outlast the request (which may take the whole timeout): else another process could send it too.
    const uncovered: string[] = [];
    const sent = await deliver(
      outbox,
      clock,
      () => outbox.rows.length === 0,
      (row) => {
        if (row.claimedUntil === null || row.claimedUntil < clock.t + TIMEOUT) uncovered.push(row.applicatie);
        return TIMEOUT;
      },
    );
    assert.deepEqual(
      sent.map((r) => r.applicatie),
      Array.from({ length: BATCH }, (_, i) => `a${i + 1}`),
    );
    assert.deepEqual(uncovered, []);
    assert.equal(outbox.rows.length, 0);
  });

  it('a row whose claim lapsed (the process stalled) and that another process took meanwhile is left to it', async () => {
    const clock = { t: 1_000_000 };
    const outbox = new MemoryOutbox();
    rows(outbox, 4, clock.t);
    const sent = await deliver(
      outbox,
      clock,
      () => outbox.rows.length === 1,
      (row) => {
        if (row.id !== 1) return TIMEOUT;
        // A stall of a minute while the first is sent: every claim of the batch lapses, and another
        // process takes the third (the claim query's rule: a claim that lapsed may be taken).
        clock.t += 60_000;
        const third = outbox.rows.find((r) => r.id === 3)!;
        assert.ok(third.claimedUntil! <= clock.t);
        third.claimedUntil = clock.t + 60_000;
        return TIMEOUT;
      },
    );
    assert.deepEqual(
      sent.map((r) => r.applicatie),
      ['a1', 'a2', 'a4'],
      'the third is left to the process that took it',
    );
    assert.deepEqual(
      outbox.rows.map((r) => r.id),
      [3],
    );
  });
});
