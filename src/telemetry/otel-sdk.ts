// The OpenTelemetry SDK, started by the process entry (bin/magistral.js) only when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, before anything imports pg, ioredis or fastify. Every SDK module is
// imported dynamically from here, so a process without the variable never loads one.
import { onTracingShutdown, shutdownTracing } from './tracing.ts';

/** Requests that are not work: probes and scrapes every few seconds would bury the traces of work. */
const QUIET_PATHS = new Set(['/metrics', '/healthz', '/readyz']);
const quiet = (url: string | undefined): boolean => QUIET_PATHS.has((url ?? '').split('?')[0]!);

/**
 * Starts tracing: OTLP over HTTP (JSON, to `${OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`, the exporter reads
 * the standard OTEL_* variables), HTTP server spans, fastify's route spans, PostgreSQL and Redis client spans.
 */
export async function startTracing(): Promise<void> {
  // No ESM loader hook (import-in-the-middle) is needed: pg and ioredis are CommonJS packages, and Node
  // loads a CommonJS package that an ES module imports through Module._load, where require-in-the-middle
  // patches it. Measured: the spawned `magistral start` exports pg and ioredis spans with no hook registered
  // (test/telemetry/traces.test.ts); the hook would only add a loader thread every import passes through.
  // An instrumentation of a pure ES module package would need it (module.register before that import).
  const [{ NodeSDK }, { OTLPTraceExporter }, { HttpInstrumentation }, { PgInstrumentation }, { IORedisInstrumentation }, { FastifyOtelInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@fastify/otel'),
  ]);
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ?? 'magistral',
    traceExporter: new OTLPTraceExporter(),
    // Traces only: metrics are Prometheus's (/metrics), logs pino's. Left to the SDK's defaults, an
    // endpoint set would also have it push OTLP metrics and logs there.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => quiet(req.url) }),
      new FastifyOtelInstrumentation({ registerOnInitialization: true, ignorePaths: (o: { url: string }) => quiet(o.url) }),
      // Only statements and commands inside a traced operation: BullMQ's blocking polls and the
      // sweeper's timers would otherwise each make a trace of their own, several a second.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  onTracingShutdown(() => sdk.shutdown());
  // A command that ends by itself (ingest, runs …) exports what its batch still holds; `start` flushes
  // in its stop handler, before process.exit.
  process.once('beforeExit', () => void shutdownTracing());
}
