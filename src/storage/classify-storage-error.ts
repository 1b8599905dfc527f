import { ZgwAuthError } from '../errors.js';
import { isRejectedInput } from './input-errors.js';
import { isUnavailable } from './unavailable-errors.js';

/**
 * A database driver's error as the refusal it stands for: a value the database cannot store (400),
 * or the database away (503, retry after a second). Anything else is undefined: an internal error.
 */
export function classifyStorageError(err: unknown): ZgwAuthError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  if (isRejectedInput(err)) return new ZgwAuthError('unstorable_value', 'a value cannot be stored');
  if (isUnavailable(err))
    return new ZgwAuthError('storage_unavailable', 'the database is unreachable', { headers: { 'retry-after': '1' } });
  return undefined;
}
