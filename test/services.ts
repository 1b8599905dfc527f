import { type ChildProcess, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnTracked, track } from './resources.js';
import { record, started } from './run-records.js';

/**
 * Private PostgreSQL and Redis servers that fault tests may stop and start, leaving the machine's
 * shared ones alone. PostgreSQL refuses to run as root, so it runs as the postgres user.
 */
export interface PrivateService {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export interface PrivatePostgres extends PrivateService {
  /** SIGKILL of the postmaster: the next start() runs crash recovery. */
  kill(): Promise<void>;
  /** Port and data directory, for extra connections and inspection. */
  port: number;
  dir: string;
}

export interface PrivateRedis extends PrivateService {
  port: number;
  /** Runs a redis-cli command against this server (e.g. CLIENT PAUSE). */
  cli(...args: string[]): string;
}

const PG_BIN = path.join('/usr/lib/postgresql', fs.readdirSync('/usr/lib/postgresql')[0]!, 'bin');
const asPostgres = (cmd: string, args: string[]) =>
  process.getuid?.() === 0
    ? execFileSync('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, cmd), ...args], { stdio: 'pipe' })
    : execFileSync(path.join(PG_BIN, cmd), args, { stdio: 'pipe' });

/** `settings` are extra `-c name=value` server settings, e.g. { max_connections: '30' }. */
export async function privatePostgres(port: number, settings: Record<string, string> = {}): Promise<PrivatePostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-pg-'));
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dir]);
  asPostgres('initdb', ['-D', dir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const extra = Object.entries(settings)
    .map(([k, v]) => ` -c ${k}=${v}`)
    .join('');
  const postmasterPid = () => Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  // Recorded for the runner, which stops the server should this process be unable to (test/run-records.ts).
  const recorded = record({ kind: 'postgres', dir });
  const startOnce = () => {
    asPostgres('pg_ctl', [
      '-D',
      dir,
      '-w',
      '-l',
      path.join(dir, 'log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off${extra}`,
      'start',
    ]);
    recorded.update({ kind: 'postgres', dir, postmaster: started(postmasterPid()) });
  };
  const start = async () => {
    // After a kill, orphaned backends hold the shared memory until they notice; start refuses until then.
    for (let attempt = 0; ; attempt++) {
      try {
        return startOnce();
      } catch (err) {
        if (attempt >= 20) {
          const log = fs.readFileSync(path.join(dir, 'log'), 'utf8').split('\n').slice(-15).join('\n');
          throw new Error(
            `private PostgreSQL did not start: ${String((err as { stderr?: Buffer }).stderr ?? err)}\n${log}`,
            { cause: err },
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  const stop = async () => void asPostgres('pg_ctl', ['-D', dir, '-w', '-m', 'fast', 'stop']);
  // pg_ctl detaches the server from this process: stopped and removed here if the test does not get to it.
  const untrack = track(`private PostgreSQL on port ${port}`, () => {
    try {
      asPostgres('pg_ctl', ['-D', dir, '-w', '-t', '20', '-m', 'immediate', 'stop']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      recorded.remove();
    }
  });
  try {
    await start();
  } catch (err) {
    untrack();
    fs.rmSync(dir, { recursive: true, force: true });
    recorded.remove();
    throw err;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start,
    stop,
    async kill() {
      const pid = postmasterPid();
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    },
    async destroy() {
      await stop().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
      untrack();
      recorded.remove();
    },
  };
}

/**
 * The first of `ports` that a private PostgreSQL starts on. These ports lie in the ephemeral
 * range, so another program's outgoing connection may hold one for a while.
 */
export async function privatePostgresOn(
  ports: number[],
  settings: Record<string, string> = {},
): Promise<PrivatePostgres> {
  for (const port of ports) {
    try {
      return await privatePostgres(port, settings);
    } catch (err) {
      if (port === ports.at(-1)) throw err;
    }
  }
  throw new Error('no ports');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function privateRedis(port: number): Promise<PrivateRedis> {
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawnTracked(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 50; i++) {
      try {
        execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'pipe' });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error('private redis did not start');
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise((r) => (c.once('exit', r), c.kill('SIGKILL')));
  };
  await start();
  const cli = (...args: string[]) =>
    execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).trim();
  return { url: `redis://127.0.0.1:${port}`, port, start, stop, destroy: stop, cli };
}
