import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnTracked, track } from './resources.js';
import { freePort } from './services.js';

/**
 * Debian's rsyslog as the real syslog receiver of the audit shipping tests: rsyslogd in the
 * foreground with a private configuration on a free port (imtcp, plain or TLS through the gtls or
 * ossl driver), parsing each message's structured data (mmpstrucdata) and writing every message
 * as one JSON line (its `jsonmesg`) to a file in a temporary folder. Nothing of the machine's own
 * syslog is touched; stopped with the test, also when an assertion failed (spawnTracked).
 */
export interface Rsyslog {
  port: number;
  dir: string;
  /** Starts it again on the same port (after stop). */
  start(): Promise<void>;
  /** SIGTERM, and waits until it has exited. */
  stop(): Promise<void>;
  /** The messages received so far, parsed. */
  received(): Received[];
  /** What rsyslogd printed (its own errors). */
  output(): string;
  destroy(): Promise<void>;
}

export interface RsyslogTls {
  driver: 'gtls' | 'ossl';
  /** anon: the receiver asks for no client certificate; x509/certvalid: it requires one chaining to caFile. */
  authMode: 'anon' | 'x509/certvalid';
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A message as rsyslog parsed it (its jsonmesg). */
export interface Received {
  msg: string;
  rawmsg: string;
  timereported: string;
  hostname: string;
  'app-name': string;
  procid: string;
  msgid: string;
  pri: string;
  syslogfacility: string;
  syslogseverity: string;
  'structured-data': string;
  '$!': { 'rfc5424-sd'?: Record<string, Record<string, string>> };
}

/** Debian's rsyslogd: in /usr/sbin, which a user's PATH may leave out. */
const RSYSLOGD = fs.existsSync('/usr/sbin/rsyslogd') ? '/usr/sbin/rsyslogd' : 'rsyslogd';

/** Starts rsyslogd on `fixedPort`, or on a free port. */
export async function startRsyslog(tls?: RsyslogTls, fixedPort?: number): Promise<Rsyslog> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-rsyslog-'));
  const untrackDir = track(`rsyslog folder ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'received.jsonl');
  let port = 0;
  let child: ChildProcess | undefined;
  let out = '';

  const config = () =>
    [
      `global(workDirectory="${dir}" maxMessageSize="64k"${
        tls
          ? ` defaultNetstreamDriverCAFile="${tls.caFile}" defaultNetstreamDriverCertFile="${tls.certFile}" defaultNetstreamDriverKeyFile="${tls.keyFile}"`
          : ''
      })`,
      `module(load="imtcp" maxSessions="200"${
        tls ? ` streamDriver.name="${tls.driver}" streamDriver.mode="1" streamDriver.authMode="${tls.authMode}"` : ''
      })`,
      'module(load="mmpstrucdata")',
      'template(name="jsonmesg" type="string" string="%jsonmesg%\\n")',
      'ruleset(name="received") {',
      '  action(type="mmpstrucdata")',
      `  action(type="omfile" file="${file}" template="jsonmesg")`,
      '}',
      `input(type="imtcp" port="${port}" ruleset="received")`,
      '',
    ].join('\n');

  const start = async () => {
    fs.writeFileSync(path.join(dir, 'rsyslog.conf'), config());
    const c = spawnTracked(
      RSYSLOGD,
      ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslogd.pid')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = c;
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 100 && c.exitCode === null; i++) {
      if (await accepts(port)) {
        // The port is this rsyslogd's: one that could not bind says so (and may keep running).
        await new Promise((r) => setTimeout(r, 100));
        if (c.exitCode === null && !/could not create .*listener|Address already in use/i.test(out)) return;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await stop();
    throw new Error(`rsyslogd did not start on port ${port}:\n${out}`);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  for (let attempt = 1; ; attempt++) {
    port = fixedPort ?? (await freePort());
    try {
      await start();
      break;
    } catch (err) {
      if (attempt === 3 || fixedPort !== undefined) {
        untrackDir();
        fs.rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  return {
    port,
    dir,
    start,
    stop,
    output: () => out,
    received: () =>
      fs.existsSync(file)
        ? fs
            .readFileSync(file, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Received)
        : [],
    destroy: async () => {
      await stop();
      untrackDir();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:port (the connection is closed at once). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** The structured data of zgw-auth's element in a received message. */
export function sd(r: Received): Record<string, string> {
  const element = r['$!']['rfc5424-sd']?.['zgw-auth@32473'];
  assert.ok(element, `no zgw-auth structured data in ${r.rawmsg.slice(0, 300)}`);
  return element;
}
