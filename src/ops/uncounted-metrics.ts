import type { Metrics } from './metrics.js';

/**
 * The metrics of a process that never shows them: a CLI command, or the cluster primary, which
 * serves nothing. Every count is dropped, and the Prometheus client is not loaded at all (with its
 * default collectors and OpenTelemetry's API, ~40 ms of CPU at each command's start). A serving
 * process counts with ops/metrics.ts and shows them at /metrics.
 */
export function uncountedMetrics(): Metrics {
  const drop = { inc() {}, observe() {} };
  const none = <K extends keyof Metrics>() => drop as unknown as Metrics[K];
  return {
    registry: {
      metrics: () => Promise.resolve(''),
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
    } as unknown as Metrics['registry'],
    tokensIssued: none<'tokensIssued'>(),
    tokensRefused: none<'tokensRefused'>(),
    verifications: none<'verifications'>(),
    rateLimitHits: none<'rateLimitHits'>(),
    notifications: none<'notifications'>(),
    auditShipping: none<'auditShipping'>(),
    requestDuration: none<'requestDuration'>(),
  };
}
