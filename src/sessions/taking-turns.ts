import { StorageUnavailableError } from '../errors.js';

/**
 * Runs tasks one at a time, the keys taking turns: after a task of one key, the next of the key
 * that waited longest since its last turn runs, so that a key with many tasks queued delays another's
 * by at most one of its own. A task that waited `maxWaitMs` or longer for its turn is refused at it
 * (StorageUnavailableError, 503) without running: the tasks ahead of it were slow (a lock the
 * database did not give, a flood), so it would be as well, and its caller would be kept waiting for
 * each in turn.
 */
export class TakingTurns {
  /** Waiting tasks by key; the map's order is the order of the turns. */
  private readonly waiting = new Map<string, Waiting[]>();
  private busy = false;

  constructor(
    private readonly maxWaitMs: number,
    /** A monotonic clock, ms. */
    private readonly clock: () => number = () => performance.now(),
  ) {}

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // Caught as it is made (a task that throws at once included), and the next one started after.
      const start = () => void new Promise<T>((r) => r(task())).then(resolve, reject).finally(() => this.next());
      if (!this.busy) {
        this.busy = true;
        start();
        return;
      }
      const waiting: Waiting = { queuedAt: this.clock(), start, refuse: reject };
      const queue = this.waiting.get(key);
      if (queue) queue.push(waiting);
      else this.waiting.set(key, [waiting]);
    });
  }

  /** Tasks waiting for their turn. */
  get queued(): number {
    let n = 0;
    for (const queue of this.waiting.values()) n += queue.length;
    return n;
  }

  private next(): void {
    for (;;) {
      const first = this.waiting.entries().next();
      if (first.done) {
        this.busy = false;
        return;
      }
      const [key, queue] = first.value;
      const waiting = queue.shift()!;
      // To the back of the turns, behind every key that waits now.
      this.waiting.delete(key);
      if (queue.length > 0) this.waiting.set(key, queue);
      if (this.clock() - waiting.queuedAt < this.maxWaitMs) {
        waiting.start();
        return;
      }
      waiting.refuse(new StorageUnavailableError(new Error('waited too long for its turn')));
    }
  }
}

interface Waiting {
  queuedAt: number;
  start: () => void;
  refuse: (err: unknown) => void;
}
