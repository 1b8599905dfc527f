import type { Config } from '../config.js';
import type { StoredKey } from './key-store.js';

/** How long keys stay published after they stop signing; the same on every process of a deployment. */
export interface KeyTimes {
  /** After a key stops signing: the longest token lifetime, the verifiers' leeway and the propagation. */
  retentionMs: number;
  /** How long another process may still sign on an older view of the keys (its refresh interval and clock skew). */
  propagationMs: number;
}

/** Resource servers commonly allow this much clock skew on `exp`, whatever ours is. */
const MIN_VERIFIER_LEEWAY = 60;

export function keyTimes(config: Pick<Config, 'maxTokenLifetime' | 'clockSkew' | 'keyRefreshInterval'>): KeyTimes {
  const propagation = config.keyRefreshInterval + config.clockSkew;
  return {
    retentionMs: (config.maxTokenLifetime + Math.max(MIN_VERIFIER_LEEWAY, config.clockSkew) + propagation) * 1000,
    propagationMs: propagation * 1000,
  };
}

/** One key in the plan: when it signs (never, when superseded) and when it leaves the JWKS. */
export interface PlannedKey {
  stored: StoredKey;
  /** Start of its signing window; null when it was superseded before it signed. */
  signsFrom: number | null;
  /** End of its signing window: when the next key takes over; null while no key follows. */
  signsUntil: number | null;
  /** When it stops being published: its last token has expired; null while it may still sign. */
  retiresAt: number | null;
}

/** The signing order: by activation, then creation, then kid, so that every process sorts ties alike. */
function signingOrder(a: StoredKey, b: StoredKey): number {
  return a.activatesAt - b.activatesAt || a.createdAt - b.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0);
}

/**
 * The key plan, derived from the stored facts alone (activation and supersession times), so that
 * every process and every restart computes the same one and no rotation can shorten the life of a
 * key that has signed: a key signs from its activation until the next key's, and is retired when
 * the last token it can have signed has expired. A key superseded while pending never signs and
 * retires at once, unless its start fell within the propagation time of the supersession: a
 * process that had not seen it yet may have signed with it.
 */
export function keyPlan(keys: readonly StoredKey[], times: KeyTimes): PlannedKey[] {
  const sorted = [...keys].sort(signingOrder);
  const signing = sorted.filter((k) => k.supersededAt === null);
  const plan = new Map<string, PlannedKey>();
  signing.forEach((k, i) => {
    const signsUntil = signing[i + 1]?.activatesAt ?? null;
    plan.set(k.kid, {
      stored: k,
      signsFrom: k.activatesAt,
      signsUntil,
      retiresAt: signsUntil === null ? null : signsUntil + times.retentionMs,
    });
  });
  return sorted.map((k) => {
    if (k.supersededAt === null) return plan.get(k.kid)!;
    const mayHaveSigned = k.activatesAt <= k.supersededAt + times.propagationMs;
    return {
      stored: k,
      signsFrom: null,
      signsUntil: null,
      retiresAt: mayHaveSigned ? k.supersededAt + times.retentionMs : k.supersededAt,
    };
  });
}

/** Whether the key signs at `t`: inside its signing window. */
export function signsAt(k: Pick<PlannedKey, 'signsFrom' | 'signsUntil'>, t: number): boolean {
  return k.signsFrom !== null && k.signsFrom <= t && (k.signsUntil === null || t < k.signsUntil);
}
