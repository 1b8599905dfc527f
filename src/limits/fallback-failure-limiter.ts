import type { FailureLimiter, KeyState, LimitedKey } from './failure-limiter.js';

/**
 * Shared limits while Redis answers, this process's own limits while it does not: token issuance
 * never stops because Redis is down. Logs once when the shared limits are lost and once when back.
 */
export class FallbackFailureLimiter implements FailureLimiter {
  private degraded = false;

  constructor(
    private readonly shared: FailureLimiter,
    private readonly local: FailureLimiter,
    private readonly log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void },
  ) {}

  state(keys: string[]): Promise<KeyState[]> {
    return this.use((l) => l.state(keys));
  }
  recordFailure(keys: LimitedKey[]): Promise<number[]> {
    return this.use((l) => l.recordFailure(keys));
  }
  reset(keys: string[]): Promise<void> {
    return this.use((l) => l.reset(keys));
  }

  private async use<T>(op: (limiter: FailureLimiter) => Promise<T>): Promise<T> {
    try {
      const result = await op(this.shared);
      if (this.degraded) {
        this.degraded = false;
        this.log.info({}, 'Redis is back: failed-authentication limits are shared again');
      }
      return result;
    } catch (err) {
      if (!this.degraded) {
        this.degraded = true;
        this.log.warn({ err }, 'Redis unreachable: failed-authentication limits are per process until it returns');
      }
      return op(this.local);
    }
  }
}
