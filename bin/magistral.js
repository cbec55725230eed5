#!/usr/bin/env node
// The `magistral` CLI: runs the TypeScript entry point through tsx so no build step is needed.
// This is the composition root: connectors register themselves here and the workers are handed
// to the CLI, so nothing in src/ imports a particular connector or the worker runtime.
import { register } from 'tsx/esm/api';
register();
await import('../connectors/index.ts');
const { startWorkers } = await import('../workers/index.ts');
const { runCli } = await import('../src/cli/main.ts');
await runCli(process.argv, { startWorkers });
