import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { descendants, record, started } from './run-records.js';

/**
 * What a test file started outside its own process: child processes, private servers, temporary
 * databases. Tests stop what they start in t.after/finally; whatever is left (an assertion failed
 * before the cleanup, a test hung) is stopped here when the test process exits or the watchdog
 * (test/watchdog.ts) ends it, so that no stray process keeps a test file, and `npm test`, running.
 * Everything here is synchronous: it must work inside a process 'exit' handler.
 */

const cleanups = new Map<number, { what: string; run: () => void }>();
let nextId = 0;

/** Registers a synchronous last-resort cleanup; the returned function unregisters it (after a normal stop). */
export function track(what: string, run: () => void): () => void {
  const id = nextId++;
  cleanups.set(id, { what, run });
  return () => void cleanups.delete(id);
}

/**
 * spawn() in a process group of its own, registered: on a last-resort cleanup the whole group
 * gets SIGKILL, so a cluster primary's workers go with it even when the primary is gone already.
 */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  const pid = child.pid;
  if (pid === undefined) return child;
  // Recorded for the runner too: it stops the group should this process be unable to (test/run-records.ts).
  const recorded = record({ kind: 'group', pid, start: started(pid)?.start ?? 0 });
  const untrack = track(`${command} ${args.join(' ')}`.slice(0, 200), () => (killGroup(pid), recorded.remove()));
  child.once('exit', () => {
    // Members of its group that outlive it (a SIGKILLed cluster primary's workers) go too.
    killGroup(pid);
    untrack();
    recorded.remove();
  });
  return child;
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Stops everything still registered, and SIGKILLs every process below this one (a CLI run through
 * execFile, curl, a browser). Returns what was still running, for the watchdog's message.
 */
export function stopEverything(): string[] {
  const left = [...cleanups.values()];
  cleanups.clear();
  const stray = descendants(process.pid);
  for (const pid of stray) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const c of left) {
    try {
      c.run();
    } catch {
      // best effort: the others still get their turn
    }
  }
  return [
    ...left.map((c) => c.what),
    ...(stray.length ? [`${stray.length} processes below the test process (pids ${stray.join(', ')})`] : []),
  ];
}

/** How many cleanups are registered: for tests of this module. */
export function registered(): number {
  return cleanups.size;
}

/** Ends this process with exit code 1 and `reason` on stderr, after stopping everything. */
export function endProcess(reason: string): never {
  const left = stopEverything();
  process.stderr.write(`\n${reason}${left.length ? `; stopped what it had left running: ${left.join('; ')}` : ''}\n`);
  process.exit(1);
}

// The last resort: whatever way the test process ends (node --test-force-exit, a runner's timeout
// or Ctrl-C included), nothing it started survives it.
// A test file's own process is recorded for the runner, which ends it (and what it started) should
// it be unable to end itself: its event loop blocked, no handler here can run.
const self = process.env.NODE_TEST_CONTEXT
  ? record({ kind: 'file', pid: process.pid, start: started(process.pid)?.start ?? 0 })
  : undefined;
process.on('exit', () => {
  stopEverything();
  self?.remove();
});
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => endProcess(`${process.argv[1] ?? 'test process'} ended by ${signal}`));
