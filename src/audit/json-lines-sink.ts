import fs from 'node:fs';
import type { AuditSink } from './audit-shipping.js';
import { shippedDetailsJson, type StoredEvent } from './shipped-event.js';

/** Tells an audit line apart from the log lines on the same stdout. */
export const JSON_LINE_TYPE = 'zgw-auth.audit';

/** One audit event as one line of JSON: its fields, its time also as ISO 8601, details (as stored, redacted) last. */
export function jsonLine(e: StoredEvent): string {
  const fields = JSON.stringify({
    type: JSON_LINE_TYPE,
    id: e.id,
    time: new Date(e.at).toISOString(),
    at: e.at,
    actor: e.actor,
    action: e.action,
    target: e.target,
    address: e.address,
    reason: e.reason,
    organisation: e.organisation,
  });
  return `${fields.slice(0, -1)},"details":${shippedDetailsJson(e.details)}}\n`;
}

/**
 * Audit events as JSON lines appended to a file (opened per batch, so that a log rotation that
 * moves the file is followed; created owner-only; the batch is on disk before it counts as
 * delivered) or written to stdout, next to the log lines (`type` tells them apart).
 */
export class JsonLinesSink implements AuditSink {
  readonly name = 'jsonl';

  constructor(readonly target: string) {}

  async deliver(events: readonly StoredEvent[]): Promise<void> {
    const text = events.map(jsonLine).join('');
    if (this.target === 'stdout') {
      await new Promise<void>((resolve, reject) =>
        process.stdout.write(text, (err) => (err ? reject(err) : resolve())),
      );
      return;
    }
    const file = await fs.promises.open(this.target, 'a', 0o600);
    try {
      await file.write(text);
      await file.datasync();
    } finally {
      await file.close();
    }
  }
}

/** Stops a start whose JSON lines file cannot be written, naming it: better than events that never arrive. */
export function checkJsonLinesTarget(target: string): void {
  if (target === 'stdout') return;
  fs.closeSync(fs.openSync(target, 'a', 0o600));
}
