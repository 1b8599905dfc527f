import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * Sustained load for fault tests: keep-alive callers that each send one request after another,
 * a readiness poller and an admin writer, all recorded per second so that a run can be printed
 * as a timeline and judged afterwards. Targets are 127.0.0.1 only.
 */

export interface LoadOptions {
  /** Base URLs of the processes (or the balancer) to load. */
  targets: string[];
  /** Keep-alive callers in total, spread over the targets. */
  callers: number;
  /** Form body of each POST /token; one is picked per request. */
  bodies: string[];
  /** Readiness is polled here (each process directly); defaults to the targets. */
  readyUrls?: string[];
  /** Admin writes during the run: base URL and admin bearer token. */
  admin?: { url: string; token: string; prefix: string };
  /** A caller gives up on a request after this long and records a hang. */
  requestTimeoutMs: number;
  /**
   * Each caller waits this long after an answer before its next request: a steady load that leaves
   * the machine room, instead of requests back to back as fast as the processes answer (0).
   */
  pauseMs?: number;
  /**
   * Also time a request to a trivial HTTP server of this process every 50 ms (see controlLatency):
   * how slow the machine and the load generator itself are at each moment, side by side with the
   * callers' requests and independent of the processes under test.
   */
  control?: boolean;
}

interface Sample {
  start: number;
  end: number;
  key: string;
}

export interface AdminWrite {
  clientId: string;
  status: number | string;
  body: string;
  contentType: string | undefined;
  retryAfter: string | undefined;
}

export class LoadRun {
  private running = false;
  private readonly t0 = performance.now();
  private readonly samples: Sample[] = [];
  private readonly readySamples: Sample[] = [];
  private readonly controlSamples: Sample[] = [];
  private controlServer: http.Server | undefined;
  private readonly marks: { at: number; label: string }[] = [];
  private readonly work: Promise<void>[] = [];
  private readonly agents: http.Agent[] = [];
  /** Unexpected answers (a 5xx other than a proper 503, a malformed 503), with a sample of each. */
  readonly unexpected = new Map<string, string>();
  readonly adminWrites: AdminWrite[] = [];

  constructor(private readonly options: LoadOptions) {}

  /** Milliseconds since the run was created. */
  now(): number {
    return performance.now() - this.t0;
  }

  mark(label: string): number {
    const at = this.now();
    this.marks.push({ at, label });
    return at;
  }

  start(): void {
    this.running = true;
    const { targets, callers } = this.options;
    for (let i = 0; i < targets.length; i++) {
      // One agent per target, one socket per caller: every caller keeps its connection alive.
      const agent = new http.Agent({ keepAlive: true, maxSockets: Math.ceil(callers / targets.length) });
      this.agents.push(agent);
    }
    for (let i = 0; i < callers; i++)
      this.work.push(this.caller(targets[i % targets.length]!, this.agents[i % targets.length]!, i));
    for (const url of this.options.readyUrls ?? targets) this.work.push(this.readinessPoller(url));
    if (this.options.admin) this.work.push(this.adminWriter(this.options.admin));
    if (this.options.control) this.work.push(this.controlPoller());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.work);
    for (const agent of this.agents) agent.destroy();
    await new Promise((r) => (this.controlServer ? this.controlServer.close(r) : r(undefined)));
  }

  private async caller(target: string, agent: http.Agent, index: number): Promise<void> {
    const { bodies, requestTimeoutMs } = this.options;
    const url = new URL('/token', target);
    let n = index;
    while (this.running) {
      const body = bodies[n++ % bodies.length]!;
      const start = this.now();
      const result = await send(
        url,
        agent,
        'POST',
        { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        requestTimeoutMs,
        false,
      );
      const key = this.classify(result);
      this.samples.push({ start, end: this.now(), key });
      // A refused or reset connection comes back at once; do not spin on it.
      if (key.startsWith('err:')) await sleep(Math.max(20, this.options.pauseMs ?? 0));
      else if (this.options.pauseMs) await sleep(this.options.pauseMs);
    }
  }

  private async controlPoller(): Promise<void> {
    this.controlServer = http.createServer((_req, res) => res.end('ok'));
    const server = this.controlServer;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.agents.push(agent);
    while (this.running) {
      const start = this.now();
      const r = await send(url, agent, 'GET', {}, undefined, 30_000, false);
      this.controlSamples.push({ start, end: this.now(), key: 'error' in r ? `err:${r.error}` : String(r.status) });
      await sleep(50);
    }
  }

  private classify(r: Result): string {
    if ('error' in r) return `err:${r.error}`;
    if (r.status === 200) return '200';
    if (r.status === 503) {
      let json: { error?: string } | undefined;
      try {
        json = JSON.parse(r.body) as { error?: string };
      } catch {
        json = undefined;
      }
      if (json?.error === 'temporarily_unavailable' && r.headers['retry-after']) return '503';
      this.unexpected.set('503 without temporarily_unavailable and Retry-After', r.body.slice(0, 300));
      return '503!';
    }
    if (r.status >= 500) this.unexpected.set(String(r.status), r.body.slice(0, 300));
    return String(r.status);
  }

  private async readinessPoller(base: string): Promise<void> {
    const url = new URL('/health/ready', base);
    while (this.running) {
      const start = this.now();
      const r = await send(url, undefined, 'GET', {}, undefined, 5000, false);
      const key = 'error' in r ? `ready-err:${r.error}` : r.status === 200 ? 'ready' : 'unready';
      this.readySamples.push({ start, end: this.now(), key });
      await sleep(200);
    }
  }

  private async adminWriter(admin: { url: string; token: string; prefix: string }): Promise<void> {
    const url = new URL('/admin/clients', admin.url);
    let n = 0;
    while (this.running) {
      const clientId = `${admin.prefix}-${n++}`;
      const r = await send(
        url,
        undefined,
        'POST',
        { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
        JSON.stringify({ clientId, rsin: '000000000' }),
        15_000,
        true,
      );
      this.adminWrites.push(
        'error' in r
          ? { clientId, status: r.error, body: '', contentType: undefined, retryAfter: undefined }
          : {
              clientId,
              status: r.status,
              body: r.body,
              contentType: r.headers['content-type'],
              retryAfter: r.headers['retry-after'] as string | undefined,
            },
      );
      await sleep(250);
    }
  }

  /** Answers by key, over requests started in [from, to) milliseconds. */
  counts(from = 0, to = Infinity, ready = false): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of ready ? this.readySamples : this.samples)
      if (s.start >= from && s.start < to) out.set(s.key, (out.get(s.key) ?? 0) + 1);
    return out;
  }

  /** Requests answered `key` that both started and ended in [from, to) milliseconds. */
  answeredWithin(key: string, from: number, to: number): number {
    return this.samples.filter((s) => s.key === key && s.start >= from && s.end < to).length;
  }

  /** The slowest request, in milliseconds. */
  maxLatency(from = 0, to = Infinity): number {
    let max = 0;
    for (const s of this.samples) if (s.start >= from && s.start < to) max = Math.max(max, s.end - s.start);
    return max;
  }

  /**
   * The slowest control request (see LoadOptions.control) that started in [from, to), or was still
   * unanswered at `from`: how slow this machine was then, whatever the processes under test did.
   */
  controlLatency(from = 0, to = Infinity): number {
    let max = 0;
    for (const s of this.controlSamples) if (s.start < to && s.end >= from) max = Math.max(max, s.end - s.start);
    return max;
  }

  /** The longest time in [from, to) in which no request got a 200 answer, in milliseconds. */
  longestGap(from: number, to: number): number {
    const ends = this.samples
      .filter((s) => s.key === '200' && s.end >= from && s.end < to)
      .map((s) => s.end)
      .sort((a, b) => a - b);
    let gap = 0;
    let last = from;
    for (const e of [...ends, to]) {
      gap = Math.max(gap, e - last);
      last = e;
    }
    return gap;
  }

  /**
   * How long after `since` the last failed request or unready probe started: after this, every
   * request succeeded and every probe said ready. 0 when nothing failed after `since`.
   */
  recoveredAfter(since: number): number {
    let last = since;
    for (const s of this.samples) if (s.key !== '200' && s.start >= since) last = Math.max(last, s.end);
    for (const s of this.readySamples) if (s.key !== 'ready' && s.start >= since) last = Math.max(last, s.end);
    return last - since;
  }

  /** One line per second: answers, readiness probes and what happened in that second. */
  timeline(): string[] {
    const end = Math.ceil(this.now() / 1000);
    const lines: string[] = [];
    for (let sec = 0; sec < end; sec++) {
      const fmt = (m: Map<string, number>) =>
        [...m]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}:${v}`)
          .join(' ');
      const answers = fmt(this.counts(sec * 1000, (sec + 1) * 1000));
      const probes = fmt(this.counts(sec * 1000, (sec + 1) * 1000, true));
      const marks = this.marks.filter((m) => m.at >= sec * 1000 && m.at < (sec + 1) * 1000).map((m) => `<< ${m.label}`);
      lines.push([`t+${sec}s`, answers || '-', '|', probes || '-', ...marks].join(' '));
    }
    return lines;
  }
}

type Result = { status: number; headers: http.IncomingHttpHeaders; body: string } | { error: string };

/** One request; network errors and timeouts come back as `{ error }`, never as a rejection. */
function send(
  url: URL,
  agent: http.Agent | undefined,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
  keepBody: boolean,
): Promise<Result> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method,
        agent: agent ?? false,
        headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        const status = res.statusCode ?? 0;
        // A 200 token body is not needed: only failures are inspected.
        res.on('data', (c: Buffer) => (status !== 200 || keepBody) && chunks.push(c));
        res.on('end', () => resolve({ status, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'HANG' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(body);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A TCP balancer in front of several processes, as HAProxy or nginx would be: each new
 * connection goes to the next backend that passed its last readiness check, and a refused
 * connection is tried on the next one (no request byte has been sent yet, so this is safe).
 */
export async function startBalancer(backends: number[]): Promise<{ url: string; close: () => Promise<void> }> {
  let next = 0;
  // Health checks every 100 ms: an unready backend gets no new connections.
  const healthy = new Map(backends.map((port) => [port, true]));
  const checks = setInterval(() => {
    for (const port of backends) {
      http
        .get({ host: '127.0.0.1', port, path: '/health/ready', agent: false, timeout: 1000 }, (res) => {
          healthy.set(port, res.statusCode === 200);
          res.resume();
        })
        .on('error', () => healthy.set(port, false))
        .on('timeout', function (this: http.ClientRequest) {
          this.destroy();
        });
    }
  }, 100);
  const pick = () => {
    for (let i = 0; i < backends.length; i++) {
      const port = backends[next++ % backends.length]!;
      if (healthy.get(port)) return port;
    }
    return backends[next++ % backends.length]!;
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    client.pause();
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const attempt = (tries: number) => {
      const port = pick();
      const upstream = net.connect(port, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        // The backend closing (after a Connection: close answer) ends the caller's side through
        // the pipe, after the answer is flushed; only an error cuts it.
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      upstream.once('error', () => {
        if (connected) return;
        if (tries + 1 < backends.length) attempt(tries + 1);
        else client.destroy();
      });
    };
    attempt(0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        clearInterval(checks);
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
