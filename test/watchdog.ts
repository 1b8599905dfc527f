import path from 'node:path';
import { endProcess } from './resources.js';

/**
 * Loaded into every test file's process by scripts/run-tests.mjs (node --import), so that test
 * files added later get it too. A file that is still running after TEST_FILE_TIMEOUT_S seconds
 * (default 900: several times the slowest file on a busy machine) is ended with a clear failure,
 * after the processes, servers and databases it started are stopped (test/resources.ts, which
 * also stops them when the file ends in any other way).
 */

const file = process.argv[1] ? path.relative(process.cwd(), process.argv[1]) : 'a test file';
const seconds = Number(process.env.TEST_FILE_TIMEOUT_S ?? '900');

// Only in a test file's process, never in the runner around it.
if (process.env.NODE_TEST_CONTEXT && Number.isFinite(seconds) && seconds > 0)
  setTimeout(
    () => endProcess(`watchdog: ${file} did not finish within ${seconds} s (TEST_FILE_TIMEOUT_S) and was ended`),
    seconds * 1000,
  ).unref();
