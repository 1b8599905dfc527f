import type { AuditLog } from '../audit/audit-log.js';
import { addressGroup } from './address.js';
import type { BackoffPolicy, FailureLimiter, KeyState } from './failure-limiter.js';

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
  /**
   * Ends an admitted attempt's turn, once its outcome is recorded (or it ended some other way):
   * call it in a `finally`. Calling it again, or for a refused attempt, does nothing.
   */
  release(): void;
}

/** This process's attempts on one (client id, address) pair: admitted, and waiting to be. */
interface PairTurns {
  /** Attempts admitted and not yet released. */
  active: number;
  /** Failures of this pair this process has recorded (and Redis has acknowledged): a read that started before one may miss it. */
  recorded: number;
  /** Attempts reading the pair's state or waiting for a turn, and admitted ones: the entry lives while any is. */
  users: number;
  /** Woken with `true` when the attempt must read the count again (a refusal was answered). */
  waiting: Array<(readAgain: boolean) => void>;
}

const NO_TURN = (): void => {};

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
  private readonly turns = new Map<string, PairTurns>();

  constructor(
    private readonly limiter: FailureLimiter,
    private readonly audit: AuditLog,
    private readonly policy: BackoffPolicy,
  ) {
    this.clientPolicy = { ...policy, threshold: policy.threshold * CLIENT_BUDGET_FACTOR };
    this.addressPolicy = { ...policy, threshold: policy.threshold * ADDRESS_BUDGET_FACTOR };
  }

  /**
   * Seconds (`wait`) this caller must wait before a secret of `clientId` is checked for it; 0: go
   * ahead, and `release()` the admission when done.
   *
   * Each admitted attempt may be a failure that is not counted until its secret is checked: with
   * the shared (Redis) counts, a state read takes a round trip, and any number of concurrent
   * attempts would all read a count below the threshold and all be checked. So this process lets at
   * most threshold - failures attempts of one pair be checked at once (at least one); the rest wait
   * for a turn and read the count again.
   */
  async check(clientId: string, address: string): Promise<Admission> {
    const keys = this.keys(clientId, address);
    const pairKey = keys[0]!;
    let turns = this.turns.get(pairKey);
    if (!turns) this.turns.set(pairKey, (turns = { active: 0, recorded: 0, users: 0, waiting: [] }));
    turns.users++;
    let admitted = false;
    try {
      let state: KeyState[] = [];
      let recordedBefore = -1;
      for (;;) {
        // Read (again) unless only successes ended turns since the last read: then it still holds,
        // and a busy client's attempts waiting for a turn cost no extra round trip each.
        if (turns.recorded !== recordedBefore) {
          recordedBefore = turns.recorded;
          state = await this.limiter.state(keys);
          // A failure this process recorded while the read was on its way may be missing from it.
          if (turns.recorded !== recordedBefore) continue;
        }
        const [pair, client, group] = state;
        const failures = pair!.failures;
        if (failures > 0) {
          const wait = Math.max(pair!.wait, client!.wait, group!.wait);
          if (wait > 0) return { wait, failures, release: NO_TURN };
        }
        if (turns.active < Math.max(1, this.policy.threshold - failures)) {
          turns.active++;
          admitted = true;
          return { wait: 0, failures, release: this.releaser(pairKey, turns) };
        }
        if (await new Promise<boolean>((resolve) => turns.waiting.push(resolve))) recordedBefore = -1;
      }
    } finally {
      if (!admitted) {
        // Refused (or failed): whoever waits behind it reads the count again, most likely to be
        // refused as well. Reads still on their way are left alone: one refusal invalidating every
        // other would make a flood of refused guesses read Redis quadratically often.
        for (const wake of turns.waiting.splice(0)) wake(true);
        this.leave(pairKey, turns);
      }
    }
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
    const turns = this.turns.get(pairKey!);
    if (turns) turns.recorded++;
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

  private releaser(pairKey: string, turns: PairTurns): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      turns.active--;
      turns.waiting.shift()?.(false);
      this.leave(pairKey, turns);
    };
  }

  private leave(pairKey: string, turns: PairTurns): void {
    if (--turns.users === 0 && this.turns.get(pairKey) === turns) this.turns.delete(pairKey);
  }

  private keys(clientId: string, address: string): string[] {
    const id = clientId.slice(0, 60);
    const group = addressGroup(address);
    return [`pair:${id}|${group}`, `client:${id}`, `addr:${group}`];
  }
}
