import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { BENCH_DIR, DEPS_DIR } from './paths.js';

const run = promisify(execFile);

export interface LoadResult {
  rps: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors, timeouts and non-2xx answers: a round with any is not a valid measurement. */
  failures: number;
}

/**
 * Closed-loop load from wrk (a separate C process, one thread) over 127.0.0.1: as many requests as
 * `connections` keep in flight, the requests of `requestsFile` cycled.
 */
export async function wrk(url: string, requestsFile: string, seconds: number, connections = 32): Promise<LoadResult> {
  const args = ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--timeout', '5s', '-s', path.join(BENCH_DIR, 'wrk', 'requests.lua'), url];
  const { stdout } = await run('wrk', args, { env: { ...process.env, BENCH_REQUESTS: requestsFile }, maxBuffer: 1 << 20 });
  const line = stdout.trim().split('\n').pop()!;
  const r = JSON.parse(line) as { requests: number; durationUs: number; connectErrors: number; readErrors: number; writeErrors: number; statusErrors: number; timeouts: number; p50Us: number; p99Us: number };
  return {
    rps: r.requests / (r.durationUs / 1e6),
    requests: r.requests,
    p50Ms: r.p50Us / 1000,
    p99Ms: r.p99Us / 1000,
    failures: r.connectErrors + r.readErrors + r.writeErrors + r.statusErrors + r.timeouts,
  };
}

/** Open-loop load at a fixed rate (autocannon in its own process): latency at a given throughput. */
export async function fixedRate(url: string, requests: Array<{ headers: Record<string, string>; body: string }>, rate: number, seconds: number): Promise<LoadResult> {
  const spec = JSON.stringify({ url, rate, seconds, connections: 64, requests });
  const { stdout } = await run(process.execPath, [path.join(DEPS_DIR, 'fixed-rate.mjs'), spec], { maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { rps: number; requests: number; p50Ms: number; p99Ms: number; non2xx: number; errors: number };
  return { rps: r.rps, requests: r.requests, p50Ms: r.p50Ms, p99Ms: r.p99Ms, failures: r.non2xx + r.errors };
}
