#!/usr/bin/env -S node --max-old-space-size=160 --initial-old-space-size=96
// The `magistral` CLI: runs the TypeScript entry point through tsx so no build step is needed.
// The heap cap keeps a worker's memory flat however large the payload: without it V8 lets garbage
// from streaming tens of millions of rows pile up to ~300 MB before collecting it. Override with
// `node --max-old-space-size=N bin/magistral.js …`.
// The initial old space: with the application loaded (a 34 MB heap) V8 began with a small old-generation
// limit and ran a full collection every 25-30 MB of socket reads while a 1C file arrived: 15-19 of them for
// 470 MB received, 0.4-0.8 s of CPU more than a bare process (ops/bench/upload-heap.ts); from 96 MB, 4-7.
// A worker's peak RSS rose by 8-12 MB with it (bench:ingest 10M 266 MB, bench:onec 216-218 MB).
// This is the composition root: the one place that builds the registry of connectors from the list of
// connector modules and hands it, with the worker runtime, to the CLI — so nothing in src/ imports a
// particular connector or the workers, and nothing registers itself by being imported.
import { register } from 'tsx/esm/api';
register();
// Tracing only when asked for (src/telemetry/otel-sdk.ts), and before the modules it instruments are
// imported below: without the variable no OpenTelemetry SDK module is ever loaded.
if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) await (await import('../src/telemetry/otel-sdk.ts')).startTracing();
const { CONNECTOR_MODULES } = await import('../connectors/index.ts');
const { Registry } = await import('../src/pipeline/registry.ts');
const { startWorkers } = await import('../workers/index.ts');
const { runCli } = await import('../src/cli/main.ts');
await runCli(process.argv, { registry: new Registry(CONNECTOR_MODULES), startWorkers });
