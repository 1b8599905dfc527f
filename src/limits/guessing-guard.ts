import type { AuditLog } from '../audit/audit-log.js';
import { addressGroup } from './address.js';
import type { BackoffPolicy, FailureLimiter } from './failure-limiter.js';

/**
 * Why a secret, secret-derived signature, client assertion or certificate was refused. Former secrets (revoked, expired) are
 * recognised and not counted: a stale instance of a consumer is not a guesser.
 */
export type GuessReason =
  | 'unknown_client'
  | 'wrong_secret'
  | 'revoked_secret'
  | 'expired_secret'
  | 'disabled_client'
  | 'disabled_organisation'
  | 'bad_signature'
  | 'self_signed_not_allowed'
  | 'method_not_allowed'
  | 'bad_assertion'
  | 'replayed_assertion'
  | 'unknown_key'
  | 'untrusted_chain'
  | 'certificate_mismatch'
  | 'certificate_header_refused';

export interface GuessContext {
  /** Where the secret was checked: token, introspect, revoke, admin. */
  endpoint: string;
  method?: string;
  /** The stored secret the presented one matched, when one did. */
  secretId?: string;
  /** The key an assertion named or was verified with. */
  kid?: string;
  /** What was wrong, in a few words (an assertion's failed check, a jwks_uri's failure). */
  detail?: string;
  /** RSIN of the client's organisation, when the client is known: the audit event is filed under it. */
  organisation?: string;
}

/** What check() found: the wait before a secret may be checked, and the pair's failures then. */
export interface Admission {
  wait: number;
  failures: number;
}

const NOT_GUESSING = new Set<GuessReason>(['revoked_secret', 'expired_secret']);
/** Failures of one client id from all addresses before its budget is spent: see README "Protection". */
export const CLIENT_BUDGET_FACTOR = 20;
/** Distinct client ids tried from one address before the address looks like enumeration. */
export const ADDRESS_BUDGET_FACTOR = 4;

/**
 * The one back-off for every place a secret is checked (client authentication at /token,
 * /introspect and /revoke; HS256 tokens at /admin). Three counts:
 *
 * - per (client id, address): the guesser of a client. Blocks at `threshold` failures, however
 *   many clients share the address.
 * - per client id, all addresses: bounds guessing of one client from many addresses.
 * - per address: each distinct client id's first failure, known or not (enumeration).
 *
 * The client and address blocks refuse only pairs with failures of their own, so a neighbour
 * behind the same egress address, or the client's own instance elsewhere, is never refused for
 * someone else's failures. Addresses are grouped as in addressGroup (IPv6 by /64).
 */
export class GuessingGuard {
  private readonly clientPolicy: BackoffPolicy;
  private readonly addressPolicy: BackoffPolicy;

  constructor(
    private readonly limiter: FailureLimiter,
    private readonly audit: AuditLog,
    private readonly policy: BackoffPolicy,
  ) {
    this.clientPolicy = { ...policy, threshold: policy.threshold * CLIENT_BUDGET_FACTOR };
    this.addressPolicy = { ...policy, threshold: policy.threshold * ADDRESS_BUDGET_FACTOR };
  }

  /** Seconds (`wait`) this caller must wait before a secret of `clientId` is checked for it; 0: go ahead. */
  async check(clientId: string, address: string): Promise<Admission> {
    const [pair, client, group] = await this.limiter.state(this.keys(clientId, address));
    if (pair!.failures === 0) return { wait: 0, failures: 0 };
    return { wait: Math.max(pair!.wait, client!.wait, group!.wait), failures: pair!.failures };
  }

  async recordFailure(clientId: string, address: string, reason: GuessReason, context: GuessContext): Promise<void> {
    const id = clientId.slice(0, 60);
    const group = addressGroup(address);
    // Unknown ids from one address are one event with a count and a sample of the ids.
    const auditKey = reason === 'unknown_client' ? `${reason}|${group}` : `${reason}|${id}|${group}`;
    const { organisation, ...details } = context;
    this.audit.recordRepeated(auditKey, {
      actor: id,
      action: 'client_auth.failed',
      target: id,
      address,
      reason,
      organisation,
      details: { reason, ...details },
    });
    if (NOT_GUESSING.has(reason)) return;
    const [pairKey, clientKey, groupKey] = this.keys(id, address);
    // Known and unknown ids are counted alike: any difference in the back-off would tell an
    // outsider which client ids exist. The address counts each distinct id once.
    const [pairFailures] = await this.limiter.recordFailure([
      { key: pairKey!, policy: this.policy },
      { key: clientKey!, policy: this.clientPolicy },
    ]);
    if (pairFailures === 1) await this.limiter.recordFailure([{ key: groupKey!, policy: this.addressPolicy }]);
  }

  /**
   * Only the pair is cleared: one success must not wipe an address's or a client's record of
   * guessing. A pair that had no failures when checked is left alone: no write per token (with
   * Redis, a round trip that cost a tenth of a busy process's time). A failure counted between
   * the check and this success stays until the pair's next success.
   */
  async recordSuccess(clientId: string, address: string, admitted: Admission): Promise<void> {
    if (admitted.failures === 0) return;
    await this.limiter.reset(this.keys(clientId, address).slice(0, 1));
  }

  private keys(clientId: string, address: string): string[] {
    const id = clientId.slice(0, 60);
    const group = addressGroup(address);
    return [`pair:${id}|${group}`, `client:${id}`, `addr:${group}`];
  }
}
