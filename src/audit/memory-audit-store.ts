import { AUDIT_FIELDS, type AuditEvent, type AuditQuery, type AuditRows, type AuditStore } from './audit-store.js';

/** AuditStore in memory, for unit tests: behaves like the SQL store (test/store-contract.test.ts). */
export class MemoryAuditStore implements AuditStore {
  /** Oldest first; details kept as JSON text, as the SQL stores keep them. */
  private readonly events: (Omit<AuditEvent, 'details'> & { details: string })[] = [];
  private nextId = 1;

  async append(rows: AuditRows): Promise<void> {
    await this.appendReturningIds(rows);
  }

  async appendReturningIds(rows: AuditRows): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i + AUDIT_FIELDS <= rows.length; i += AUDIT_FIELDS) {
      const [at, actor, action, target, address, reason, details, organisation] = rows.slice(i, i + AUDIT_FIELDS);
      this.events.push({
        id: this.nextId++,
        at: at as number,
        actor: actor as string,
        action: action as string,
        target: target as string,
        address: address as string | null,
        reason: reason as string | null,
        details: details as string,
        organisation: organisation as string | null,
      });
      ids.push(this.nextId - 1);
    }
    return ids;
  }

  async updateDetails(updates: readonly (readonly [id: number, details: string])[]): Promise<void> {
    for (const [id, details] of updates) {
      const event = this.events.find((e) => e.id === id);
      if (event) event.details = details;
    }
  }

  async list(query: AuditQuery & { limit: number }): Promise<AuditEvent[]> {
    const found: AuditEvent[] = [];
    for (let i = this.events.length - 1; i >= 0 && found.length < query.limit; i--) {
      const e = this.events[i]!;
      if (query.action && e.action !== query.action) continue;
      if (query.target && e.target !== query.target) continue;
      if (query.actor && e.actor !== query.actor) continue;
      if (query.reason && e.reason !== query.reason) continue;
      if (query.organisation !== undefined && e.organisation !== query.organisation) continue;
      if (query.since !== undefined && e.at < query.since) continue;
      if (query.before !== undefined && e.id >= query.before) continue;
      found.push({ ...e, details: JSON.parse(e.details) as Record<string, unknown> });
    }
    return found;
  }

  async deleteBefore(before: number): Promise<number> {
    const kept = this.events.filter((e) => e.at >= before);
    const removed = this.events.length - kept.length;
    this.events.splice(0, this.events.length, ...kept);
    return removed;
  }
}
