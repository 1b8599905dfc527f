import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditLog } from '../audit/audit-log.js';
import { type KeyState, MemoryFailureLimiter } from './failure-limiter.js';
import { GuessingGuard } from './guessing-guard.js';

/** Counts in memory whose next state read can be held back, as a round trip to Redis may be. */
class SlowReads extends MemoryFailureLimiter {
  private held?: () => void;
  private holding = false;

  /** The next read takes its answer now and gives it once `deliver()` is called. */
  holdNext(): void {
    this.holding = true;
  }
  deliver(): void {
    this.held!();
  }

  override async state(keys: string[]): Promise<KeyState[]> {
    const answer = await super.state(keys);
    if (!this.holding) return answer;
    this.holding = false;
    await new Promise<void>((resolve) => (this.held = resolve));
    return answer;
  }
}

const audit = { recordRepeated: () => {} } as unknown as AuditLog;

describe('GuessingGuard: attempts of one pair in flight', () => {
  it('reads again when its state read was overtaken by a failure this process recorded', async () => {
    const limiter = new SlowReads();
    const guard = new GuessingGuard(limiter, audit, { threshold: 1, baseSeconds: 60, maxSeconds: 600 });
    const first = await guard.check('c', '10.0.0.1');
    assert.equal(first.wait, 0);
    limiter.holdNext();
    const second = guard.check('c', '10.0.0.1');
    // The second read has its answer (no failures) before the first attempt's failure is counted.
    await new Promise((resolve) => setImmediate(resolve));
    await guard.recordFailure('c', '10.0.0.1', 'wrong_secret', { endpoint: 'token' });
    first.release();
    limiter.deliver();
    const admitted = await second;
    admitted.release();
    assert.ok(admitted.wait > 0, 'backed off: the failure is counted before the second guess is checked');
  });

  it('lets a waiting attempt through once the one before it is released, and drops the pair when none is left', async () => {
    const guard = new GuessingGuard(new MemoryFailureLimiter(), audit, {
      threshold: 1,
      baseSeconds: 60,
      maxSeconds: 600,
    });
    const first = await guard.check('c', '10.0.0.2');
    let through = false;
    const second = guard.check('c', '10.0.0.2').then((a) => ((through = true), a));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(through, false, 'the second waits for a turn');
    first.release();
    first.release();
    const admitted = await second;
    assert.equal(admitted.wait, 0);
    admitted.release();
    assert.equal((guard as unknown as { turns: Map<string, unknown> }).turns.size, 0, 'nothing kept per pair');
  });
});
