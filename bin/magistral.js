#!/usr/bin/env -S node --max-old-space-size=160
// The `magistral` CLI: runs the TypeScript entry point through tsx so no build step is needed.
// The heap cap keeps a worker's memory flat however large the payload: without it V8 lets garbage
// from streaming tens of millions of rows pile up to ~300 MB before collecting it. Override with
// `node --max-old-space-size=N bin/magistral.js …`.
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
