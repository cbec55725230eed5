// BullMQ processors of the extract and merge queues: thin shells around src/pipeline that turn a
// stage's outcome into queue behaviour (next stage, wait and try again, retry, fail the run).
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { PipelineDeps } from '../src/pipeline/deps.ts';
import { extractBlocked, extractRun } from '../src/pipeline/extract/index.ts';
import { mergeRun } from '../src/pipeline/merge.ts';
import { enqueueExtract, enqueueMerge, wakeNextRead } from '../src/pipeline/jobs.ts';
import { blockerOf, failRun, holdRun, observeFreshness, runSettled } from '../src/pipeline/lifecycle/index.ts';
import { flowOfRun } from '../src/pipeline/runs.ts';
import type { ActJob, ExtractJob, MergeJob, OutboundJob, TracedJob } from '../src/pipeline/queues.ts';
import type { Attributes } from '@opentelemetry/api';
import { annotate, ATTR, inSpan } from '../src/telemetry/tracing.ts';
import { processActRequest } from '../src/backoffice/act-requests.ts';
import { RetryableError } from '../src/errors/index.ts';
import { sendOrderVersion } from '../src/pipeline/outbound.ts';
import { HoldRunError, isMagistralError, PayloadError, type ErrorCode } from '../src/errors/index.ts';
import { pullFlow, type PollJob } from '../src/pipeline/poll.ts';
import { refuseForeignJob } from './installation.ts';
import { isDependencyUnavailable } from '../src/db/index.ts';

async function later(job: Job, token: string | undefined, ms: number): Promise<never> {
  await job.moveToDelayed(Date.now() + ms, token);
  throw new DelayedError();
}

/**
 * How long a job whose run must wait ('waiting') stays delayed at most. It is woken long before: the run
 * it waits for wakes it when it settles (runSettled). This is only the safety net for a wake-up lost.
 */
const WAIT_SAFETY_MS = 10_000;

/**
 * The run waits for another: its job sleeps until woken. A run that settled between the claim and the
 * delay found the job still active and could not wake it: ask once more and wake it here then.
 */
async function waitForWake(job: Job, token: string | undefined, stillBlocked: () => Promise<boolean>): Promise<never> {
  await job.moveToDelayed(Date.now() + WAIT_SAFETY_MS, token);
  if (!(await stillBlocked().catch(() => true))) await job.promote().catch(() => {});
  throw new DelayedError();
}

/** A run has settled: what waits for it need not wait for its next poll (best effort). */
const wake = runSettled;

/** Errors a payload causes: retrying reads the same bytes and fails the same way. */
function isPayloadError(e: unknown): e is PayloadError | (Error & { code: ErrorCode }) {
  return e instanceof PayloadError || (isMagistralError(e) && e.code === 'MAG_ERR_MAPPING_INVALID');
}

/**
 * A stage threw: the worker reacts to the error's class. A payload error fails the run at once; a hold
 * error holds it for a person with its reason; a retryable (or unknown) error is tried again with the
 * job's backoff and fails the run (with its code) on the last attempt.
 */
async function onError(deps: PipelineDeps, job: Job, e: unknown): Promise<never> {
  const runId = (job.data as { runId: number }).runId;
  const flow = (await flowOfRun(deps.db, runId).catch(() => undefined))?.name ?? 'unknown';
  const attempt = job.attemptsMade + 1;
  if (e instanceof HoldRunError) {
    deps.log.warn({ flow, run: runId, queue: job.queueName, reason: e.reason }, 'run held for a person');
    if (await holdRun(deps.pool, runId, e.reason)) deps.metrics?.runsFinished.inc({ flow, state: 'held' });
    throw new UnrecoverableError(e.message);
  }
  // The database (or Redis) away is no fault of the run: past the job's attempts the job fails, the
  // run stays open, and the sweeper gives it a new job — until the database is back, however long.
  // Failing it instead lost a run to a restart that ended just before its last attempt's bookkeeping.
  if (isDependencyUnavailable(e) && attempt >= (job.opts.attempts ?? 1)) {
    deps.log.warn({ flow, run: runId, queue: job.queueName, attempt, err: (e as Error).message }, 'a dependency is unavailable; the run stays open for the sweeper');
    throw e;
  }
  const last = isPayloadError(e) || attempt >= (job.opts.attempts ?? 1);
  deps.log.warn({ flow, run: runId, queue: job.queueName, attempt, err: e }, last ? 'stage failed for good' : 'stage failed; will retry');
  if (last) {
    const code: ErrorCode = isMagistralError(e) ? e.code : 'MAG_ERR_INTERNAL';
    const message = isPayloadError(e) ? (e as Error).message : `${job.queueName} failed after ${attempt} attempts: ${(e as Error).message}`;
    await failRun(deps, runId, code, message);
    deps.metrics?.runsFinished.inc({ flow, state: 'failed' });
    await wake(deps, runId);
    throw new UnrecoverableError((e as Error).message);
  }
  // RetryableError and errors of no known class alike: the job's backoff decides when.
  throw e;
}

/**
 * A job's work in the span of its stage (src/telemetry/tracing.ts): under the span that made the job when
 * its data carries a traceparent, else the root of a trace of its own. A job sent back to wait
 * (DelayedError) is no failure; its span's outcome says why it waits.
 */
function traced<D extends object>(stage: string, attributes: (data: D) => Attributes, processor: (job: Job<D>, token?: string) => Promise<string>) {
  return (job: Job<D>, token?: string): Promise<string> => inSpan(`magistral.${stage}`, { ...attributes(job.data), [ATTR.attempt]: job.attemptsMade + 1 },
    { parent: (job.data as TracedJob).trace ?? null, notFailure: (e) => e instanceof DelayedError }, () => processor(job, token));
}

/** Sets the stage's outcome on its span now: a job sent back to wait ends by throwing DelayedError, not by returning it. */
function outcomeOf<T extends string>(outcome: T): T {
  annotate({ [ATTR.outcome]: outcome });
  return outcome;
}

const runAttributes = (data: { runId: number }): Attributes => ({ [ATTR.run]: data.runId });

export function extractProcessor(deps: PipelineDeps) {
  return traced('extract', runAttributes, async (job: Job<ExtractJob>, token?: string): Promise<string> => {
    await refuseForeignJob(deps, job, token);
    const { runId } = job.data;
    let outcome;
    try {
      outcome = outcomeOf(await extractRun(deps, runId));
    } catch (e) {
      return onError(deps, job, e);
    }
    if (outcome === 'merged' || outcome === 'staged' || outcome === 'failed') {
      await wakeNextRead(deps, runId).catch((e: unknown) => deps.log.warn({ run: runId, err: e }, 'could not wake the next read of the flow'));
    }
    switch (outcome) {
      case 'merged':
        await observeFreshness(deps, runId).catch((e: unknown) => deps.log.warn({ run: runId, err: e }, 'freshness not observed'));
        await wake(deps, runId);
        return outcome;
      case 'staged': {
        const flow = await flowOfRun(deps.db, runId);
        if (flow) await enqueueMerge(deps, runId, flow).catch((e: unknown) => deps.log.warn({ run: runId, err: e }, 'merge not enqueued; the sweeper will'));
        return outcome;
      }
      case 'failed':
        await wake(deps, runId);
        return outcome;
      case 'busy':
        return later(job, token, 2000);
      case 'waiting':
        // The runs this one depends on (same file, earlier in the order) are still working: woken when they settle.
        return waitForWake(job, token, () => extractBlocked(deps, runId));
      case 'paused':
        return later(job, token, 5000);
      default:
        return outcome;
    }
  });
}

export function mergeProcessor(deps: PipelineDeps) {
  return traced('merge', runAttributes, async (job: Job<MergeJob>, token?: string): Promise<string> => {
    await refuseForeignJob(deps, job, token);
    const { runId } = job.data;
    let outcome;
    try {
      outcome = outcomeOf(await mergeRun(deps, runId));
    } catch (e) {
      return onError(deps, job, e);
    }
    switch (outcome) {
      case 'done':
        await observeFreshness(deps, runId).catch((e: unknown) => deps.log.warn({ run: runId, err: e }, 'freshness not observed'));
        await wake(deps, runId);
        return outcome;
      case 'failed':
        await wake(deps, runId);
        return outcome;
      case 'waiting':
        // An earlier run of the flow, or one this run depends on, is open (or held): woken when it settles.
        return waitForWake(job, token, async () => (await blockerOf(deps.pool, runId, { stage: 'merge', ordered: true, dependencies: true })) !== null);
      case 'busy':
        // Another worker merges this run right now (a sweeper's second job): look again once it is done.
        return later(job, token, 2000);
      case 'paused':
        return later(job, token, 5000);
      case 'restage': {
        const flow = await flowOfRun(deps.db, runId);
        if (flow) await enqueueExtract(deps, runId, flow);
        return outcome;
      }
      default:
        return outcome;
    }
  });
}

/** A scheduler's tick: one pull of the flow. A failed pull fails the job (shown in the dashboard); the next tick is its retry. */
export function pollProcessor(deps: PipelineDeps) {
  return traced<PollJob>('pull', (data) => ({ [ATTR.flow]: data.flow }), async (job: Job<PollJob>, token?: string): Promise<string> => {
    await refuseForeignJob(deps, job, token);
    const r = await pullFlow(deps, job.data.flow, { trigger: 'schedule' });
    if (r.outcome === 'failed') throw new UnrecoverableError(`${r.error.code}: ${r.error.message}`);
    return r.outcome;
  });
}

/**
 * One order version to send through an outbound flow (src/pipeline/outbound.ts records every outcome).
 * A retryable failure (or an unknown one) is thrown for BullMQ's backoff; one that retrying cannot help
 * ends the job at once. A flow paused or a send of the same order busy elsewhere: look again later.
 */
export function outboundProcessor(deps: PipelineDeps) {
  return traced<OutboundJob>('outbound', (data) => ({ [ATTR.order]: data.orderId }), async (job: Job<OutboundJob>, token?: string): Promise<string> => {
    await refuseForeignJob(deps, job, token);
    const attempts = job.opts.attempts ?? 1;
    let outcome;
    try {
      outcome = outcomeOf(await sendOrderVersion(deps, job.data, job.attemptsMade + 1, attempts));
    } catch (e) {
      if (isMagistralError(e) && !(e instanceof RetryableError)) throw new UnrecoverableError(`${e.code}: ${e.message}`);
      throw e;
    }
    if (outcome === 'busy') return later(job, token, 2000);
    if (outcome === 'paused') return later(job, token, 5000);
    return outcome;
  });
}

/**
 * One reconciliation act asked of an ERP (src/backoffice/act-requests.ts records every outcome): as the
 * outbound processor, a retryable failure goes to BullMQ's backoff, a permanent one ends the job at once;
 * a paused flow looks again later.
 */
export function actProcessor(deps: PipelineDeps) {
  return traced<ActJob>('act', (data) => ({ [ATTR.actRequest]: data.requestId }), async (job: Job<ActJob>, token?: string): Promise<string> => {
    await refuseForeignJob(deps, job, token);
    let outcome;
    try {
      outcome = await processActRequest(deps, job.data.requestId, job.attemptsMade + 1, job.opts.attempts ?? 1);
    } catch (e) {
      if (isMagistralError(e) && !(e instanceof RetryableError)) throw new UnrecoverableError(`${e.code}: ${e.message}`);
      throw e;
    }
    if (outcome === 'paused') return later(job, token, 5000);
    return outcome;
  });
}
