// The node:test reporter of scripts/run-tests.mjs, which runs each test file in a node --test
// process of its own: node's spec reporter without its closing summary (the runner prints one
// summary of all files instead). It appends to the file named in ZGW_TEST_REPORT, synchronously
// (--test-force-exit ends the process right after the last event), one JSON line per file that
// ran a test ({"ran": path}), so that the runner can name the files that ran none, and the counts
// of node's closing summary ({"count": "pass", "n": 12}) for the runner to add up, and the CPU time
// the file used ({"cpu_ms": 12345}: this process, the file's process and what they waited for).
// Node reports a file that defines no test as one passing test named after the file: that one
// does not count; a failure of the whole file (it did not load, its watchdog ended it) does, being
// reported already.
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { spec } from 'node:test/reporters';

const SUMMARY = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'];

/** Whether `event` is a line of node's closing summary: a diagnostic of the run, of no file. */
function isSummary(event) {
  return (
    event.type === 'test:diagnostic' &&
    event.data.nesting === 0 &&
    !event.data.file &&
    SUMMARY.includes(String(event.data.message).split(' ')[0])
  );
}

/**
 * CPU time (user + system, ms) of this process and of the children it has reaped, their reaped
 * children included (Linux /proc; undefined elsewhere). Read as this process exits, once the test
 * file's process has ended: its servers and tools count, shared databases (PostgreSQL, Redis) do not.
 */
function cpuMs() {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    // utime, stime, cutime, cstime: fields 14 to 17, after the command name in parentheses
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0);
    return Number.isFinite(ticks) ? Math.round(ticks * 10) : undefined; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

export default async function* specWithoutSummary(source) {
  const report = process.env.ZGW_TEST_REPORT;
  const note = (entry) => report && fs.appendFileSync(report, `${JSON.stringify(entry)}\n`);
  // On exit, also a forced one (--test-force-exit), when the file's process has ended and been
  // waited for: noted then, not with the closing summary, which a forced exit may cut short.
  process.once('exit', () => {
    const cpu = cpuMs();
    if (cpu !== undefined) note({ cpu_ms: cpu });
  });
  const seen = new Set();
  async function* shown() {
    for await (const event of source) {
      if (isSummary(event)) {
        const [count, n] = event.data.message.split(' ');
        note({ count, n: Number(n) });
        continue;
      }
      const file = event.data?.file;
      if (file && !seen.has(file)) {
        if ((event.type === 'test:start' && event.data.name !== file) || event.type === 'test:fail') {
          seen.add(file);
          note({ ran: file });
        }
      }
      yield event;
    }
  }
  yield* Readable.from(shown()).pipe(spec());
}
