import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StorageUnavailableError } from '../errors.js';
import { TakingTurns } from './taking-turns.js';

describe('TakingTurns', () => {
  it('runs one task at a time, the keys in turn', async () => {
    const turns = new TakingTurns(60_000);
    const ran: string[] = [];
    let running = 0;
    const task = (name: string) => async () => {
      assert.equal(++running, 1, 'one at a time');
      ran.push(name);
      await new Promise((r) => setTimeout(r, 1));
      running--;
    };
    await Promise.all([
      turns.run('a', task('a1')),
      turns.run('a', task('a2')),
      turns.run('a', task('a3')),
      turns.run('b', task('b1')),
      turns.run('c', task('c1')),
      turns.run('b', task('b2')),
    ]);
    assert.deepEqual(ran, ['a1', 'a2', 'b1', 'c1', 'a3', 'b2']);
  });

  it('a task that fails, at once or later, passes its failure to its caller alone', async () => {
    const turns = new TakingTurns(60_000);
    const results = await Promise.allSettled([
      turns.run('a', () => {
        throw new Error('at once');
      }),
      turns.run('a', () => Promise.reject(new Error('later'))),
      turns.run('b', async () => 'fine'),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      ['at once', 'later', 'fine'],
    );
    assert.equal(turns.queued, 0);
  });

  it('tasks that waited maxWaitMs for their turn are refused with 503 without running; later ones run', async () => {
    let t = 0;
    const turns = new TakingTurns(3000, () => t);
    let release!: () => void;
    const ran: string[] = [];
    const slow = turns.run('a', () => new Promise<void>((r) => (release = r)));
    const waited = Array.from({ length: 5000 }, (_, k) => turns.run(`k${k % 7}`, async () => void ran.push('late')));
    t += 3000;
    const fresh = turns.run('b', async () => void ran.push('fresh'));
    release();
    await slow;
    for (const w of await Promise.allSettled(waited)) {
      assert.equal(w.status, 'rejected');
      assert.ok(w.reason instanceof StorageUnavailableError);
    }
    await fresh;
    assert.deepEqual(ran, ['fresh']);
  });
});
