import type { ClientRecord, ClientResolver, KeySource, VerificationKey } from '@zgw-auth/verifier';

/**
 * The verifier's two inputs held in memory: what an API that keeps its keys and clients at hand
 * would pass. Both count lookups, so that a test can tell a cached answer from a fresh one, and
 * both can answer with a promise, as a remote source does.
 */
export class MemoryKeySource implements KeySource {
  readonly keys = new Map<string, VerificationKey>();
  lookups = 0;

  constructor(private readonly asynchronous = false) {}

  get(kid: string | undefined): VerificationKey | undefined | Promise<VerificationKey | undefined> {
    this.lookups++;
    const key = kid === undefined ? undefined : this.keys.get(kid);
    return this.asynchronous ? Promise.resolve(key) : key;
  }
}

export class MemoryClients {
  readonly records = new Map<string, ClientRecord>();
  lookups = 0;

  constructor(private readonly asynchronous = false) {}

  set(record: ClientRecord): ClientRecord {
    this.records.set(record.clientId, record);
    return record;
  }

  /** Replaces fields of a registered client, as an administrator's change would. */
  update(clientId: string, change: Partial<ClientRecord>): void {
    this.records.set(clientId, { ...this.records.get(clientId)!, ...change });
  }

  readonly resolve: ClientResolver = (clientId) => {
    this.lookups++;
    const record = this.records.get(clientId);
    return this.asynchronous ? Promise.resolve(record) : record;
  };
}
