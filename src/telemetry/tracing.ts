// Spans of the pipeline, written against the OpenTelemetry API alone. Without the SDK
// (OTEL_EXPORTER_OTLP_ENDPOINT unset, src/telemetry/otel-sdk.ts never imported) every call here is the
// API's no-op: a stage pays a few function calls, and jobs carry no trace field.
import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';

/** Attribute names of Magistral's spans (README, Operations → Traces). */
export const ATTR = {
  flow: 'magistral.flow',
  run: 'magistral.run',
  runs: 'magistral.runs',
  rows: 'magistral.rows',
  outcome: 'magistral.outcome',
  attempt: 'magistral.attempt',
  order: 'magistral.order',
  actRequest: 'magistral.act_request',
} as const;

const tracer = () => trace.getTracer('magistral');

/**
 * The W3C traceparent of the active span, to travel in a job's data (`trace`) so that the next stage
 * continues this trace. Empty without the SDK or outside a span.
 */
export function traceField(): { trace?: string } {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? { trace: carrier.traceparent } : {};
}

/**
 * Where a stage's span hangs: under the span whose traceparent a job carries, or (no traceparent: a job the
 * sweeper or a scheduler made, or one older than tracing) at the root of a trace of its own, which its
 * `magistral.run` attribute ties to the run. Never under whatever happens to be active in the worker.
 */
function parentOf(traceparent: string | undefined | null): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

export interface StageOptions {
  /** A job's traceparent: the span continues that trace; absent, it starts one. Not given: under the active span (receive). */
  parent?: string | null;
  /** Errors that end the stage without failing it (BullMQ's DelayedError: the job waits). */
  notFailure?: (e: unknown) => boolean;
}

/** Runs `fn` in a span named `name`; a string result is the span's outcome, a thrown error marks it failed. */
export async function inSpan<T>(name: string, attributes: Attributes, opts: StageOptions, fn: () => Promise<T>): Promise<T> {
  const parent = opts.parent === undefined ? context.active() : parentOf(opts.parent);
  return tracer().startActiveSpan(name, { attributes }, parent, async (span: Span) => {
    try {
      const result = await fn();
      if (typeof result === 'string') span.setAttribute(ATTR.outcome, result);
      return result;
    } catch (e) {
      if (!opts.notFailure?.(e)) {
        span.recordException(e as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
      }
      throw e;
    } finally {
      span.end();
    }
  });
}

/** Adds attributes to the active span (the stage's): what is learnt inside it, e.g. the run's flow. */
export function annotate(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

type Shutdown = () => Promise<void>;
let shutdown: Shutdown | undefined;

/** Set by the SDK once started (otel-sdk.ts): what flushes and stops it. */
export function onTracingShutdown(fn: Shutdown): void {
  shutdown = fn;
}

/** Flushes the spans not yet exported and stops the SDK; nothing without it. Called before the process exits. */
export async function shutdownTracing(): Promise<void> {
  const fn = shutdown;
  shutdown = undefined;
  await fn?.().catch(() => {});
}
