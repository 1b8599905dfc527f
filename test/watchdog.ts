import path from 'node:path';
import { stopEverything } from './resources.js';

/**
 * Loaded into every test file's process by scripts/run-tests.mjs (node --import), so that test
 * files added later get it too. A file that is still running after TEST_FILE_TIMEOUT_S seconds
 * (default 900: several times the slowest file on a busy machine) is ended with a clear failure,
 * after the processes, servers and databases it started are stopped. A SIGTERM or SIGINT (the
 * runner's own timeout, Ctrl-C) stops them too before the process ends.
 */

const file = process.argv[1] ? path.relative(process.cwd(), process.argv[1]) : 'a test file';
const seconds = Number(process.env.TEST_FILE_TIMEOUT_S ?? '900');

function end(reason: string, code: number): never {
  const left = stopEverything();
  process.stderr.write(`\n${reason}${left.length ? `; stopped what it had left running: ${left.join('; ')}` : ''}\n`);
  process.exit(code);
}

// Only in a test file's process, never in the runner around it.
if (process.env.NODE_TEST_CONTEXT) {
  if (Number.isFinite(seconds) && seconds > 0) setTimeout(() => end(`watchdog: ${file} did not finish within ${seconds} s (TEST_FILE_TIMEOUT_S) and was ended`, 1), seconds * 1000).unref();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => end(`${file} ended by ${signal}`, 1));
}
