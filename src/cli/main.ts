#!/usr/bin/env node
import { runCli } from './program.js';

const code = await runCli(process.argv);
if (code !== 0) process.exitCode = code;
// The command is over (serve returns only when it failed to start): whatever it may have left
// open, a connection or a timer, must not keep the process from exiting with its code.
setTimeout(() => process.exit(), 1000).unref();
