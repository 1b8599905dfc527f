import type { AuditLog } from '../audit/audit-log.js';
import type { Actor } from '../clients/client-service.js';
import { type Config, MAX_KEY_PUBLISH_DELAY, SIGNING_ALGS, type SigningAlg } from '../config.js';
import { ValidationError } from '../errors.js';
import type { KeyRing } from './key-ring.js';

export interface KeyRotationRequest {
  /** The new key's algorithm; the configured signing algorithm when absent. */
  alg?: string | undefined;
  /** Seconds the new key is published before it signs; the configured publish delay when absent. */
  publishDelay?: number | undefined;
  /** Emergency: the new key signs at once; verifiers caching the JWKS refuse its tokens until they refetch. */
  now?: boolean | undefined;
}

export interface KeyRotation {
  kid: string;
  alg: SigningAlg;
  /** Epoch ms from which the new key signs. */
  activatesAt: number;
  /** Epoch ms at which the key it takes over from stops being published: its last tokens have expired. */
  previousRetireAt: number;
  /** Pending keys it supersedes: they never sign, and leave the JWKS. */
  superseded: string[];
}

export interface KeyRotationDependencies {
  keys: Pick<KeyRing, 'rotate'>;
  audit: Pick<AuditLog, 'record'>;
  config: Pick<Config, 'signingAlg' | 'keyPublishDelay'>;
}

const isSigningAlg = (alg: string): alg is SigningAlg => (SIGNING_ALGS as readonly string[]).includes(alg);

/**
 * A signing key rotation, from the admin API or the CLI alike: checks the request, rotates through
 * the key ring (which publishes the new key at once and retires the older ones when their tokens
 * have expired) and records the rotation, and each pending key it superseded, in the audit trail
 * before it is acknowledged.
 */
export async function rotateKey(
  deps: KeyRotationDependencies,
  request: KeyRotationRequest,
  actor: Actor,
): Promise<KeyRotation> {
  const alg = request.alg ?? deps.config.signingAlg;
  if (!isSigningAlg(alg)) throw new ValidationError(`alg must be one of ${SIGNING_ALGS.join(', ')}`, 'alg');
  if (request.now && request.publishDelay !== undefined)
    throw new ValidationError('give now or publishDelay, not both', 'publishDelay');
  const publishDelay = request.now ? 0 : (request.publishDelay ?? deps.config.keyPublishDelay);
  if (!Number.isInteger(publishDelay) || publishDelay < 0 || publishDelay > MAX_KEY_PUBLISH_DELAY) {
    throw new ValidationError(`publishDelay: whole seconds from 0 to ${MAX_KEY_PUBLISH_DELAY}`, 'publishDelay');
  }
  const { kid, activatesAt, previousRetireAt, superseded } = await deps.keys.rotate(alg, publishDelay);
  const rotation: KeyRotation = { kid, alg, activatesAt, previousRetireAt, superseded };
  await deps.audit.record({
    actor: actor.id,
    address: actor.address,
    action: 'key.rotated',
    target: kid,
    details: { ...rotation, publishDelay },
  });
  for (const old of superseded) {
    await deps.audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'key.superseded',
      target: old,
      details: { by: kid, signed: false },
    });
  }
  return rotation;
}
