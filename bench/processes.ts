import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';

export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  /** Resident set size of the process, in MB (the primary's only in cluster mode). */
  rssMb(): number;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string[];
  env?: Record<string, string>;
  /** Port the server listens on; readiness is a 200 from `readyPath`. */
  port: number;
  readyPath: string;
  /** CPU list for taskset, e.g. "0": the server and all its threads stay on those cores. */
  pin?: string;
  logFile: string;
}

/** Starts a server as its own process (output to a log file) and waits until it answers. */
export async function startServer(o: StartOptions): Promise<ServerProcess> {
  const [cmd, ...args] = o.pin ? ['taskset', '-c', o.pin, ...o.command] : o.command;
  const log = fs.openSync(o.logFile, 'a');
  const child = spawn(cmd!, args, { env: { ...process.env, ...o.env }, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${o.port}`;
  await waitUntilReady(child, `${url}${o.readyPath}`, o);
  return {
    name: o.name,
    url,
    pid: child.pid!,
    rssMb: () => rssMb(child.pid!),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitUntilReady(child: ChildProcess, url: string, o: StartOptions): Promise<void> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) break;
    if ((await getStatus(url)) === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(
    `${o.name} did not become ready; see ${o.logFile}:\n${fs.readFileSync(o.logFile, 'utf8').slice(-2000)}`,
  );
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}
