import fs from 'node:fs';
import path from 'node:path';

/**
 * What each test file's process started outside itself, recorded for scripts/run-tests.mjs in the
 * folder it names in ZGW_TEST_RECORDS. A test file whose event loop is blocked (a synchronous call
 * that never returns, a busy loop) cannot run its own cleanup (test/resources.ts), its watchdog or
 * its signal handlers: after node's test runner ends, the runner SIGKILLs here whatever is recorded
 * and still alive, so that nothing a test file started outlives the run.
 *
 * A process is recorded with its start time, so that a pid reused by another process is never hit.
 */

export const RECORDS_ENV = 'ZGW_TEST_RECORDS';

export interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  /** Clock ticks after boot (/proc/<pid>/stat field 22). */
  start: number;
  zombie: boolean;
}

interface Started {
  pid: number;
  start: number;
}

export type RunRecord =
  /** A test file's own process; its descendants go with it. */
  | ({ kind: 'file' } & Started)
  /** A process group started by spawnTracked; `start` is its leader's. */
  | ({ kind: 'group' } & Started)
  /** A private PostgreSQL data directory and, once started, its postmaster (pg_ctl detaches it). */
  | { kind: 'postgres'; dir: string; postmaster?: Started };

function proc(pid: number): Proc | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the parenthesised command name, which may hold spaces: state is field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(f[1]), pgid: Number(f[2]), start: Number(f[19]), zombie: f[0] === 'Z' };
  } catch {
    return undefined;
  }
}

/** Every process of the machine (Linux /proc). */
export function processes(): Proc[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  return entries.map((e) => proc(Number(e))).filter((p): p is Proc => p !== undefined);
}

/** Every process below `root`: children of children included. */
export function descendants(root: number, table: Proc[] = processes()): number[] {
  const children = new Map<number, number[]>();
  for (const p of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** The process `pid` as it runs now, for a record; undefined when it is gone. */
export function started(pid: number): Started | undefined {
  const p = proc(pid);
  return p && !p.zombie ? { pid, start: p.start } : undefined;
}

function alive(s: Started | undefined): boolean {
  const p = s && proc(s.pid);
  return p !== undefined && !p.zombie && p.start === s!.start;
}

let sequence = 0;

/**
 * Records `record` when this process runs under scripts/run-tests.mjs. Synchronous, for exit
 * handlers; written whole (rename), so the runner never reads half a record.
 */
export function record(first: RunRecord): { update(r: RunRecord): void; remove(): void } {
  const dir = process.env[RECORDS_ENV];
  if (!dir) return { update: () => {}, remove: () => {} };
  const file = path.join(dir, `${process.pid}-${sequence++}.json`);
  const write = (r: RunRecord) => {
    try {
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(r));
      fs.renameSync(`${file}.tmp`, file);
    } catch {
      // the runner is gone (its folder with it): nobody to tell
    }
  };
  write(first);
  return { update: write, remove: () => fs.rmSync(file, { force: true }) };
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(done: () => boolean, ms: number): Promise<void> {
  for (const until = Date.now() + ms; !done() && Date.now() < until;) await pause(100);
}

/** The postmaster of data directory `dir` as its postmaster.pid names it, if it runs (its command line names `dir`). */
function postmasterOf(dir: string): Started | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dir) ? started(pid) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * For the runner, after node's test runner ended: gives test-file processes still running `graceMs`
 * to finish their own cleanup, then SIGKILLs every recorded process still alive with what runs
 * below or in its group, shuts recorded private PostgreSQL servers down and removes their data
 * directories. Returns what it stopped, for the runner's message.
 */
export async function stopRecorded(dir: string, graceMs: number): Promise<string[]> {
  const read = (): RunRecord[] => {
    try {
      return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .flatMap((f) => {
          try {
            return [JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as RunRecord];
          } catch {
            return [];
          }
        });
    } catch {
      return [];
    }
  };
  const files = () => read().filter((r): r is Extract<RunRecord, { kind: 'file' }> => r.kind === 'file' && alive(r));
  await waitFor(() => files().length === 0, graceMs);
  const stopped: string[] = [];
  const killed = new Set<number>();
  // Again while anything new is found: a process may fork between the look at /proc and the kill.
  for (let round = 0; round < 5; round++) {
    const table = processes();
    const victims = new Set<number>();
    for (const r of read()) {
      if (r.kind === 'file' && alive(r)) {
        // The test file first, so that it starts nothing more, then what runs below it.
        kill(r.pid, 'SIGKILL');
        victims.add(r.pid);
        for (const d of descendants(r.pid, table)) victims.add(d);
      } else if (r.kind === 'group') {
        // A leader of that pid with another start time: the number is reused, not ours.
        const leader = table.find((p) => p.pid === r.pid);
        if (leader && leader.start !== r.start) continue;
        for (const p of table) if (p.pgid === r.pid && p.start >= r.start && !p.zombie) victims.add(p.pid);
      }
    }
    const fresh = [...victims].filter((pid) => !killed.has(pid));
    if (fresh.length === 0) break;
    for (const pid of fresh) {
      kill(pid, 'SIGKILL');
      killed.add(pid);
    }
  }
  if (killed.size) stopped.push(`${killed.size} processes (pids ${[...killed].join(', ')})`);
  for (const r of read()) {
    if (r.kind !== 'postgres') continue;
    const postmaster = [r.postmaster, postmasterOf(r.dir)].find(alive);
    if (postmaster) {
      const below = descendants(postmaster.pid);
      // SIGQUIT: PostgreSQL's immediate shutdown, which ends its backends and frees its shared memory.
      kill(postmaster.pid, 'SIGQUIT');
      await waitFor(() => !alive(postmaster), 10_000);
      if (alive(postmaster)) for (const pid of [postmaster.pid, ...below]) kill(pid, 'SIGKILL');
      stopped.push(`private PostgreSQL in ${r.dir} (postmaster ${postmaster.pid})`);
    }
    fs.rmSync(r.dir, { recursive: true, force: true });
  }
  return stopped;
}
