const READY_TIMEOUT_MS = 2000;

/** What readiness asks of the process's parts. */
export interface ReadinessProbes {
  /** Settles when the registry answers (or fails). */
  database(): Promise<unknown>;
  /** Whether a signing key is loaded. */
  signingKey(): boolean;
  /** Whether Redis answers; absent when none is configured. */
  redis?: () => boolean;
  /** What is wrong with the CRL files (a refused file, an outdated list), or undefined; absent without CRLs. */
  crl?: () => string | undefined;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, string>;
}

/**
 * Whether a balancer should send this process requests: its database and keys, and the process's
 * own state (shutting down, or recently hit by an unexpected error).
 */
export class Readiness {
  private stopping = false;
  private faultUntil = 0;
  private fault: string | undefined;

  constructor(private readonly probes: ReadinessProbes) {}

  /** Shutting down: the balancer should send nothing new here. */
  markStopping(): void {
    this.stopping = true;
  }

  /**
   * An error no handler expected: report unready for `ms`, so that a balancer prefers the other
   * processes while this one shows whether it still works; its checks decide again afterwards.
   */
  markFault(description: string, ms: number): void {
    this.fault = description;
    this.faultUntil = Date.now() + ms;
  }

  async check(): Promise<ReadinessReport> {
    const database = await withTimeout(this.probes.database(), READY_TIMEOUT_MS).then(
      () => 'ok',
      () => 'unreachable',
    );
    const keys = this.probes.signingKey() ? 'ok' : 'none loaded';
    const fault = this.faultUntil > Date.now() ? this.fault : undefined;
    const checks: Record<string, string> = { database, keys };
    // Redis holds only limits, which fall back per process: reported, but never a reason to take the process out.
    if (this.probes.redis) checks.redis = this.probes.redis() ? 'ok' : 'unreachable (limits per process)';
    // Every process reads the same CRL files, and clients with keys or secrets still work: reported, never a reason to take one out.
    if (this.probes.crl) checks.crl = this.probes.crl() ?? 'ok';
    if (this.stopping) checks.process = 'shutting down';
    else if (fault) checks.process = `unexpected error: ${fault}`;
    return { ready: database === 'ok' && keys === 'ok' && !this.stopping && !fault, checks };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms))),
  ]).finally(() => clearTimeout(timer));
}
