import fs from 'node:fs/promises';
import { ValidationError } from '../errors.js';
import { readCrlFile } from './crl-file.js';
import type { RevocationList } from './revocation-list.js';
import { replaceRevocationLists, revocationListFor, type TrustStore } from './trust-store.js';

export { MAX_CRL_BYTES } from './crl-file.js';

/** What became of a CRL file at its last look. */
export interface CrlFileStatus {
  file: string;
  /** thisUpdate and nextUpdate (epoch ms, null: none) of the list in use. */
  thisUpdate: number;
  nextUpdate: number | null;
  /** Why the file's current contents are not in use (the last good list is), or undefined. */
  refused: string | undefined;
  /** The list in use is past its nextUpdate: every certificate of its CA is refused until a newer one is in place. */
  outdated: boolean;
}

/** A log line about a CRL file: the file's name and what happened, never anything else. */
export type CrlLog = (level: 'info' | 'warn' | 'error', details: Record<string, unknown>, message: string) => void;

interface Watched {
  file: string;
  /** The issuer (DER name) of the file's list at start: a list of another CA never takes its place. */
  issuerDer: Buffer;
  /** Size, modification time and inode of the file as last looked at; '' before the first look. */
  stamp: string;
  list: RevocationList;
  refused: string | undefined;
  outdated: boolean;
}

/**
 * Re-reads the CRL files (ZGW_AUTH_TLS_CRL) when they change, at most once per interval, without
 * a restart or a signal. A file changes when its size, modification time or inode does (a cron job
 * that writes a new file and renames it over the old one, or one that writes in place).
 *
 * What a careful operator wants when the new contents are bad:
 *
 * - A file that cannot be read, does not parse, is too large, is not signed by the CA it names, is
 *   a list of another CA than the file held at start, is dated in the future (thisUpdate beyond the
 *   clock leeway), or is older (thisUpdate) than the list in use: the last good list stays in use. It still revokes
 *   what it revoked, and it still fails closed at its own nextUpdate. Dropping it instead would
 *   accept every certificate of that CA, revoked ones included (fail open), and refusing every
 *   certificate would turn a half-written file into an outage. An older list is a rollback: it
 *   could bring a revoked certificate back.
 * - A list past its nextUpdate (the one in use, or a new one that is already outdated): every
 *   certificate of its CA is refused until a current list is in place (fail closed), as at start.
 *
 * Both are logged once per change and shown by status() (readiness and metrics).
 */
export class RevocationListReloader {
  private readonly watched: Watched[];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: TrustStore,
    files: readonly string[],
    private readonly now: () => number,
    private readonly log: CrlLog,
    /** How far (ms) a new list's thisUpdate may lie ahead of the clock (ZGW_AUTH_CLOCK_SKEW). */
    private readonly leewayMs: number,
  ) {
    // The store was made from these files in this order (trustStoreFrom).
    this.watched = files.map((file, k) => ({
      file,
      issuerDer: store.revocationLists[k]!.issuerDer,
      stamp: '',
      list: store.revocationLists[k]!,
      refused: undefined,
      outdated: false,
    }));
  }

  /** Looks at the files every `seconds` (0: never); the timer keeps no process alive. */
  start(seconds: number): void {
    if (seconds <= 0 || this.watched.length === 0 || this.timer) return;
    // The first look learns the files' stamps: a file rewritten since the start is read again then.
    void this.check();
    this.timer = setInterval(() => void this.check(), seconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Looks at every file once; one look at a time. */
  check(): Promise<void> {
    this.running ??= this.look().finally(() => (this.running = undefined));
    return this.running;
  }

  status(): CrlFileStatus[] {
    return this.watched.map((w) => ({
      file: w.file,
      thisUpdate: w.list.thisUpdate,
      nextUpdate: w.list.nextUpdate,
      refused: w.refused,
      outdated: w.outdated,
    }));
  }

  private async look(): Promise<void> {
    let changed = false;
    for (const w of this.watched) {
      if (await this.lookAt(w)) changed = true;
      const outdated = w.list.nextUpdate !== null && this.now() > w.list.nextUpdate;
      if (outdated && !w.outdated)
        this.log(
          'error',
          { file: w.file, nextUpdate: new Date(w.list.nextUpdate!).toISOString() },
          'CRL past its nextUpdate: every certificate of its CA is refused until a newer CRL is in place',
        );
      w.outdated = outdated;
    }
    if (changed)
      replaceRevocationLists(
        this.store,
        this.watched.map((w) => w.list),
      );
  }

  /** Whether the file brought a new list into use. */
  private async lookAt(w: Watched): Promise<boolean> {
    let bytes: Buffer;
    let stamp: string;
    try {
      const stat = await fs.stat(w.file);
      stamp = `${stat.size} ${stat.mtimeMs} ${stat.ino}`;
      if (stamp === w.stamp) return false;
      // Regular files only, read to a bound: a FIFO or a symlink to /dev/zero never stalls the looks.
      bytes = await readCrlFile(w.file);
    } catch (err) {
      const reason =
        err instanceof ValidationError
          ? err.message
          : `cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
      this.refuse(w, reason);
      return false;
    }
    // Read since the stamp was taken: a write after it changes the stamp again, and is read next time.
    w.stamp = stamp;
    let list: RevocationList;
    try {
      list = revocationListFor(this.store, w.file, bytes, { now: this.now(), leewayMs: this.leewayMs });
    } catch (err) {
      const message = err instanceof ValidationError ? err.message : 'unreadable';
      this.refuse(w, message.replace(`CRL ${w.file}: `, '').replace(`CRL ${w.file} `, 'the CRL '));
      return false;
    }
    // crl-reload-same-issuer: a list of another CA (one anyone can make) would drop the CA's own list
    // and with it every revocation it holds; the rollback check below compares lists of one CA only.
    if (!list.issuerDer.equals(w.issuerDer)) {
      this.refuse(w, 'issued by another CA than the CRL this file held at start');
      return false;
    }
    if (list.thisUpdate < w.list.thisUpdate) {
      this.refuse(w, 'older (thisUpdate) than the CRL in use');
      return false;
    }
    const same = list.signedBytes.equals(w.list.signedBytes);
    w.list = list;
    if (w.refused !== undefined) this.log('info', { file: w.file }, 'CRL file usable again');
    w.refused = undefined;
    if (same) return false;
    this.log(
      'info',
      {
        file: w.file,
        thisUpdate: new Date(list.thisUpdate).toISOString(),
        nextUpdate: list.nextUpdate === null ? null : new Date(list.nextUpdate).toISOString(),
        revoked: list.revoked.size,
      },
      'CRL reloaded',
    );
    return true;
  }

  /** The file's contents are not used; the last good list stays. Logged when the reason changes. */
  private refuse(w: Watched, reason: string): void {
    if (w.refused !== reason)
      this.log('error', { file: w.file, reason }, 'CRL file refused; the last good CRL stays in use');
    w.refused = reason;
  }
}
