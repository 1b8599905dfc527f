import { type ChildProcess, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
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

/**
 * A port no program listens on now, from the operating system: test files run at the same time,
 * and other runs of them too, so no fixed port is ever free for sure.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Tries `start` on three free ports: another program may take one between the look and the start. */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

/**
 * A private PostgreSQL on a free port. `settings` are extra `-c name=value` server settings,
 * e.g. { max_connections: '30' }.
 */
export function privatePostgres(settings: Record<string, string> = {}): Promise<PrivatePostgres> {
  return onFreePort((port) => privatePostgresAt(port, settings));
}

async function privatePostgresAt(port: number, settings: Record<string, string>): Promise<PrivatePostgres> {
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A private Redis on a free port. */
export function privateRedis(): Promise<PrivateRedis> {
  return onFreePort(privateRedisAt);
}

async function privateRedisAt(port: number): Promise<PrivateRedis> {
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawnTracked(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const self = child;
    for (let i = 0; i < 50 && self.exitCode === null; i++) {
      try {
        // Ours, not another program's server that holds the port (then ours ends at once).
        const info = execFileSync('redis-cli', ['-p', String(port), 'info', 'server'], { encoding: 'utf8' });
        if (info.includes(`process_id:${self.pid}\r`)) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await stop();
    throw new Error(`private redis did not start on port ${port}`);
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
