#!/usr/bin/env -S node --max-semi-space-size=8
import { runCli } from './program.js';

const code = await runCli(process.argv);
if (code !== 0) process.exitCode = code;
