/**
 * What the use cases count, as they see it: a counter they increment with labels. The operations
 * side (src/ops/metrics.ts) supplies Prometheus counters; tests may pass anything that counts.
 */
export interface Count<Label extends string> {
  inc(labels: Partial<Record<Label, string>>): void;
}

/** Counts of refusals for a limit (`failed_auth`, ...), shared by every place a secret is checked. */
export interface RateLimitCounts {
  rateLimitHits: Count<'limit'>;
}

export interface TokenCounts extends RateLimitCounts {
  tokensIssued: Count<'alg'>;
}

export interface VerificationCounts extends RateLimitCounts {
  verifications: Count<'kind' | 'outcome'>;
}
