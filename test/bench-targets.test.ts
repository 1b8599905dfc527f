import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Series } from '../bench/report.js';
import { missedTargets, p99, QUICK_UNCHECKED, targets } from '../bench/targets.js';

const FULL = { clients: 100_000, memoryRequests: 1_000_000, quick: false };
const QUICK = { clients: 20_000, memoryRequests: 100_000, quick: true };

/** Every series the targets could ask for, each with the same value: every row is computed. */
function everySeries(value = 1): Record<string, Series> {
  // The memory row finds its series by name prefix (the name has the count of requests served).
  const own: Record<string, Series> = {
    'RSS after 1.00 M token requests, 100000 clients': { unit: 'MB', values: [value] },
  };
  return new Proxy(own, {
    get: (own, name) => (typeof name === 'string' ? (own[name] ?? { unit: 'x', values: [value] }) : undefined),
  });
}

// The accepted target table: id, kind and required value of each row --check judges on a full run.
const ACCEPTED: Array<[id: string, kind: 'ratio' | 'max', required: number]> = [
  ['token-rs256-bare', 'ratio', 0.9],
  ['token-es256-bare', 'ratio', 0.8],
  ['token-rs256-peer', 'ratio', 1.5],
  ['token-es256-peer', 'ratio', 2.5],
  ['token-postgres', 'ratio', 0.9],
  ['token-postgres-p99', 'max', 2],
  ['cores', 'ratio', 1.7],
  ['introspect-idp', 'ratio', 0.6],
  ['introspect-self-signed', 'ratio', 0.6],
  ['verifier-rs256-raw', 'ratio', 0.9],
  ['verifier-hs256-raw', 'ratio', 0.5],
  ['scale-token-all-active', 'ratio', 0.8],
  ['scale-introspect-all-active', 'ratio', 0.8],
  ['latency-p99', 'max', 10],
  ['startup', 'max', 1000],
  ['memory', 'max', 150],
];

describe('benchmark targets', () => {
  it('a full run judges every row of the accepted table, at its required value', () => {
    const rows = targets(everySeries(), FULL);
    for (const [id, kind, required] of ACCEPTED) {
      const t = rows.find((r) => r.id === id);
      assert.ok(t, `${id} is a target`);
      assert.deepEqual([t.kind, t.required, t.unchecked], [kind, required, undefined], id);
    }
    // Targets above what the machine can do are gone.
    assert.equal(
      rows.find((r) => r.id === 'verifier-rs256-jose'),
      undefined,
    );
    assert.equal(new Set(rows.map((r) => r.id)).size, rows.length, 'ids are unique');
  });

  it('PostgreSQL p99 is compared with SQLite p99 of the same rounds, at most twice', () => {
    const series: Record<string, Series> = {
      [p99('/token RS256, zgw-auth, PostgreSQL')]: { unit: 'ms', values: [9, 5, 30] },
      [p99('/token RS256, zgw-auth, SQLite')]: { unit: 'ms', values: [4, 2, 10] },
    };
    const t = targets(series, FULL).find((r) => r.id === 'token-postgres-p99')!;
    assert.equal(t.measured, 2.5, 'the median of the per-round ratios 2.25, 2.5, 3');
    assert.equal(t.pass, false);
    assert.deepEqual(
      missedTargets([t]).map((r) => r.id),
      ['token-postgres-p99'],
    );
  });

  it('--check fails a full run on a missed row, never a quick one', () => {
    const series: Record<string, Series> = {
      '/token RS256, zgw-auth, SQLite': { unit: 'req/s', values: [850] },
      '/token RS256, bare Fastify': { unit: 'req/s', values: [1000] },
    };
    const full = targets(series, FULL);
    assert.deepEqual(
      missedTargets(full).map((t) => t.id),
      ['token-rs256-bare'],
      '0.85× misses the 0.9× target',
    );
    const quick = targets(series, QUICK);
    assert.equal(quick[0]!.pass, false, 'the quick row still says it is below the target');
    assert.equal(quick[0]!.unchecked, QUICK_UNCHECKED);
    assert.deepEqual(missedTargets(quick), []);
    assert.ok(
      targets(everySeries(0), QUICK).every((t) => t.unchecked),
      'no row of a quick run is judged',
    );
  });
});
