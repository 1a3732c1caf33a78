#!/usr/bin/env node
/** `moxts` command line entry point; see program.ts. */
import { main } from './program.js';

const code = await main(process.argv.slice(2));
// A command may have set process.exitCode itself (e.g. "not found" answers); keep it unless main failed.
if (code !== 0) process.exitCode = code;
