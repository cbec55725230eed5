// A worker in its own process, configured from the environment, for tests that kill workers.
// Prints "ready" once its workers are listening on the queues.
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.ts';
import { createRuntime } from '../../src/pipeline/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { registry } from './registry.ts';

const config = loadConfig(process.env);
const rt = createRuntime(config, pino({ level: process.env.LOG_LEVEL ?? 'silent' }), registry, { applicationName: 'test-worker-process' });
await startWorkers(rt, { name: `test-worker-${process.pid}` });
process.stdout.write('ready\n');
setInterval(() => {}, 1 << 30);
