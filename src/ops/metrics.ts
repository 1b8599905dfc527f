import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from '#prom-client';
import type { CredentialExpiry } from '../clients/credential-expiry.js';
import type { NotificationOutbox } from '../autorisaties/notifications.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { CrlFileStatus } from '../pki/revocation-reload.js';

/** What the metrics read besides the keys, where the process has it. */
export interface MetricSources {
  /** The CRL files and what became of them (ZGW_AUTH_TLS_CRL). */
  crl?: () => CrlFileStatus[];
  /** Registered credentials expiring soon. */
  expiry?: Pick<CredentialExpiry, 'counts'>;
  /** The Autorisaties API's notification outbox, when a Notificaties API is configured. */
  outbox?: Pick<NotificationOutbox, 'depth'>;
  /** The audit sinks this process ships now (one process per sink). */
  auditSinks?: () => string[];
}

/** Prometheus metrics of one process, on their own registry (several apps may share a process in tests). */
export class Metrics {
  readonly registry = new Registry();
  readonly tokensIssued = new Counter({
    name: 'zgw_auth_tokens_issued_total',
    help: 'Access tokens issued',
    labelNames: ['alg'],
    registers: [this.registry],
  });
  readonly tokensRefused = new Counter({
    name: 'zgw_auth_token_requests_refused_total',
    help: 'Token requests refused, by OAuth error code',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly verifications = new Counter({
    name: 'zgw_auth_verifications_total',
    help: 'Tokens checked at /introspect, by token kind and outcome (ok or the refusal code)',
    labelNames: ['kind', 'outcome'],
    registers: [this.registry],
  });
  readonly rateLimitHits = new Counter({
    name: 'zgw_auth_rate_limit_hits_total',
    help: 'Requests refused by a limit: failed-authentication back-off or the per-address request limit',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  readonly notifications = new Counter({
    name: 'zgw_auth_notifications_total',
    help: 'Autorisaties API notifications by outcome: delivered (accepted by the Notificaties API), retried (it was away) or failed (refused for good, kept in the outbox)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly auditShipping = new Counter({
    name: 'zgw_auth_audit_shipping_total',
    help: 'Audit shipping per sink (syslog, jsonl): events shipped, events dropped (more waited than ZGW_AUTH_AUDIT_BACKLOG_MAX; the oldest), deliveries failed (sent again)',
    labelNames: ['sink', 'outcome'],
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'zgw_auth_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(keys: KeyRing, now: () => number, sources: MetricSources = {}) {
    collectDefaultMetrics({ register: this.registry, prefix: 'zgw_auth_' });
    new Gauge({
      name: 'zgw_auth_signing_key_age_seconds',
      help: 'Age of each published signing key',
      labelNames: ['kid', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        const signing = keys.current()?.kid;
        for (const k of keys.published())
          this.set(
            { kid: k.kid, state: k.kid === signing ? 'signing' : 'published' },
            Math.max(0, (now() - k.createdAt) / 1000),
          );
      },
    });
    const expiry = sources.expiry;
    if (expiry)
      new Gauge({
        name: 'zgw_auth_credentials_expiring',
        help: 'Client credentials (kind: secret, key, certificate) expiring within ZGW_AUTH_EXPIRY_WARNING, per organisation (RSIN)',
        labelNames: ['organisation', 'kind'],
        registers: [this.registry],
        async collect() {
          const counts = await expiry.counts();
          this.reset();
          for (const c of counts) this.set({ organisation: c.organisation, kind: c.kind }, c.count);
        },
      });
    const outbox = sources.outbox;
    if (outbox)
      new Gauge({
        name: 'zgw_auth_notifications_outbox_depth',
        help: 'Autorisaties API notifications waiting in the outbox for the Notificaties API (failed ones not counted)',
        registers: [this.registry],
        async collect() {
          this.set(await outbox.depth());
        },
      });
    const auditSinks = sources.auditSinks;
    if (auditSinks)
      new Gauge({
        name: 'zgw_auth_audit_sink_held',
        help: 'Audit sinks (syslog, jsonl) this process ships now: 1 per sink; another process sharing the database ships the others',
        labelNames: ['sink'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const sink of auditSinks()) this.set({ sink }, 1);
        },
      });
    const crl = sources.crl;
    if (crl) {
      new Gauge({
        name: 'zgw_auth_crl_reload_failing',
        help: "1 while a CRL file's current contents are refused and its last good CRL stays in use (file: its place in ZGW_AUTH_TLS_CRL)",
        labelNames: ['file'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [k, f] of crl().entries()) this.set({ file: String(k + 1) }, f.refused === undefined ? 0 : 1);
        },
      });
      new Gauge({
        name: 'zgw_auth_crl_next_update_timestamp_seconds',
        help: 'nextUpdate of the CRL in use per file (its place in ZGW_AUTH_TLS_CRL; epoch seconds): past it, every certificate of its CA is refused',
        labelNames: ['file'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [k, f] of crl().entries())
            if (f.nextUpdate !== null) this.set({ file: String(k + 1) }, Math.floor(f.nextUpdate / 1000));
        },
      });
    }
  }
}
