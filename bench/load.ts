import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { BENCH_DIR } from './paths.js';

const run = promisify(execFile);

export interface LoadResult {
  rps: number;
  requests: number;
  p99Ms: number;
  /** Socket errors, timeouts and non-2xx answers: a round with any is not a valid measurement. */
  failures: number;
}

/**
 * Load from wrk (a separate C process, one thread) over 127.0.0.1, the requests of `requestsFile`
 * cycled (POSTs; with `method: 'GET'`, GETs of the path each line names). Closed loop by default: every connection sends its next request as soon as it has an
 * answer. With `rate`, connections pause between requests (exponentially distributed, like
 * independent clients) so that together they send about `rate` requests per second.
 */
export async function wrk(
  url: string,
  requestsFile: string,
  seconds: number,
  o: { connections?: number; rate?: number; method?: 'GET' | 'POST' } = {},
): Promise<LoadResult> {
  const connections = o.connections ?? 32;
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${Math.max(1, Math.round(seconds))}s`,
    '--timeout',
    '5s',
    '-s',
    path.join(BENCH_DIR, 'wrk', 'requests.lua'),
    url,
  ];
  const env: Record<string, string> = { ...process.env, BENCH_REQUESTS: requestsFile };
  if (o.method === 'GET') env.BENCH_METHOD = 'GET';
  if (o.rate) env.BENCH_MEAN_DELAY_MS = String((connections * 1000) / o.rate);
  const { stdout } = await run('wrk', args, { env, maxBuffer: 1 << 20 });
  const line = stdout.trim().split('\n').pop()!;
  const r = JSON.parse(line) as {
    requests: number;
    durationUs: number;
    connectErrors: number;
    readErrors: number;
    writeErrors: number;
    statusErrors: number;
    timeouts: number;
    p99Us: number;
  };
  return {
    rps: r.requests / (r.durationUs / 1e6),
    requests: r.requests,
    p99Ms: r.p99Us / 1000,
    failures: r.connectErrors + r.readErrors + r.writeErrors + r.statusErrors + r.timeouts,
  };
}
