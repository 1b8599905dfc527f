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

  it("a busy client's attempts that waited for a turn behind successes read the count once each, not again", async () => {
    let reads = 0;
    const limiter = new (class extends MemoryFailureLimiter {
      override async state(keys: string[]): Promise<KeyState[]> {
        reads++;
        return super.state(keys);
      }
    })();
    const guard = new GuessingGuard(limiter, audit, { threshold: 5, baseSeconds: 60, maxSeconds: 600 });
    let inFlight = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const admitted = await guard.check('busy', '10.0.0.3');
        inFlight++;
        most = Math.max(most, inFlight);
        // The secret is checked (a few turns of the event loop), and it was right.
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        await guard.recordSuccess('busy', '10.0.0.3', admitted);
        admitted.release();
      }),
    );
    assert.equal(most, 5, 'at most threshold attempts of the pair are checked at once');
    assert.equal(reads, 20, 'one state read per attempt: the waiting ones went on the read they had');
  });

  it('after a refusal, the attempts waiting behind it read the count again', async () => {
    const limiter = new MemoryFailureLimiter();
    const guard = new GuessingGuard(limiter, audit, { threshold: 2, baseSeconds: 60, maxSeconds: 600 });
    const a = await guard.check('c', '10.0.0.4');
    const b = await guard.check('c', '10.0.0.4');
    // Both turns taken: the third waits on a read that saw no failures.
    const third = guard.check('c', '10.0.0.4');
    await new Promise((resolve) => setImmediate(resolve));
    // Another process's failures reach the shared count: two here stand in for them.
    await limiter.recordFailure([
      { key: 'pair:c|10.0.0.4', policy: { threshold: 2, baseSeconds: 60, maxSeconds: 600 } },
      { key: 'pair:c|10.0.0.4', policy: { threshold: 2, baseSeconds: 60, maxSeconds: 600 } },
    ]);
    // A fourth attempt reads the new count and is refused; the third must not go on its old read.
    const fourth = await guard.check('c', '10.0.0.4');
    assert.ok(fourth.wait > 0, 'the fourth is backed off');
    a.release();
    const admitted = await third;
    b.release();
    admitted.release();
    assert.ok(admitted.wait > 0, 'the third read again and is backed off too');
  });

  it('a flood of guesses at a backed-off pair reads the count once per guess, not once per refusal', async () => {
    let reads = 0;
    const limiter = new (class extends MemoryFailureLimiter {
      override async state(keys: string[]): Promise<KeyState[]> {
        reads++;
        // A round trip: every read of the flood is on its way at once.
        await new Promise((resolve) => setImmediate(resolve));
        return super.state(keys);
      }
    })();
    const policy = { threshold: 1, baseSeconds: 60, maxSeconds: 600 };
    const guard = new GuessingGuard(limiter, audit, policy);
    await guard.recordFailure('c', '10.0.0.5', 'wrong_secret', { endpoint: 'token' });
    const flood = await Promise.all(Array.from({ length: 50 }, () => guard.check('c', '10.0.0.5')));
    assert.ok(
      flood.every((a) => a.wait > 0),
      'every guess is backed off',
    );
    assert.equal(reads, 50, 'one read each: a refusal does not send the reads in flight back');
  });
});
