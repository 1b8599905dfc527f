// The node:test reporter of scripts/run-tests.mjs, which runs each test file in a node --test
// process of its own: node's spec reporter without its closing summary (the runner prints one
// summary of all files instead). It appends to the file named in ZGW_TEST_REPORT, synchronously
// (--test-force-exit ends the process right after the last event), one JSON line per file that
// ran a test ({"ran": path}), so that the runner can name the files that ran none, and the counts
// of node's closing summary ({"count": "pass", "n": 12}) for the runner to add up.
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

export default async function* specWithoutSummary(source) {
  const report = process.env.ZGW_TEST_REPORT;
  const note = (entry) => report && fs.appendFileSync(report, `${JSON.stringify(entry)}\n`);
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
