#!/usr/bin/env node
import { runCli } from './program.js';

// A reader that stops early (`zgw-auth --help | head -3`) closes the pipe: the rest of the output
// has nobody to read it, which is no failure to report with a stack. Nor is it a success: what was
// lost may be a secret shown once. The command ends with 141, as a tool ended by SIGPIPE would,
// unless it failed with a code of its own.
const SIGPIPE_EXIT = 141;
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (stream === process.stdout && !process.exitCode) process.exitCode = SIGPIPE_EXIT;
  });

const code = await runCli(process.argv);
if (code !== 0) process.exitCode = code;
// The command is over (serve returns only when it failed to start): whatever it may have left
// open, a connection or a timer, must not keep the process from exiting with its code.
setTimeout(() => process.exit(), 1000).unref();
