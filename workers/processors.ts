// BullMQ processors of the extract and merge queues: thin shells around src/pipeline that turn a
// stage's outcome into queue behaviour (next stage, wait and try again, retry, fail the run).
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { PipelineDeps } from '../src/pipeline/deps.ts';
import { extractRun, failRun } from '../src/pipeline/extract.ts';
import { mergeRun } from '../src/pipeline/merge.ts';
import { enqueueExtract, enqueueMerge, flowOfRun, wakeWaiting } from '../src/pipeline/runs.ts';
import type { ExtractJob, MergeJob } from '../src/pipeline/queues.ts';
import { isMagistralError } from '../src/errors/index.ts';
import { pullFlow, type PollJob } from '../src/pipeline/poll.ts';
import { refuseForeignJob } from './installation.ts';

async function later(job: Job, token: string | undefined, ms: number): Promise<never> {
  await job.moveToDelayed(Date.now() + ms, token);
  throw new DelayedError();
}

/** A run has settled: what waits for it need not wait for its next poll (best effort). */
async function wake(deps: PipelineDeps, runId: number): Promise<void> {
  await wakeWaiting(deps, runId).catch((e: unknown) => deps.log.warn({ run: runId, err: e }, 'could not wake the runs waiting for this one'));
}

/** On the last attempt a stage error fails the run (with its message) instead of leaving it open. */
async function onError(deps: PipelineDeps, job: Job, e: unknown): Promise<never> {
  const runId = (job.data as { runId: number }).runId;
  const flow = (await flowOfRun(deps.db, runId).catch(() => undefined))?.name ?? 'unknown';
  const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  deps.log.warn({ flow, run: runId, queue: job.queueName, attempt: job.attemptsMade + 1, err: e }, last ? 'stage failed for good' : 'stage failed; will retry');
  if (last) {
    const code = isMagistralError(e) ? e.code : 'MAG_ERR_INTERNAL';
    await failRun(deps, runId, code, `${job.queueName} failed after ${job.attemptsMade + 1} attempts: ${(e as Error).message}`);
    deps.metrics?.runsFinished.inc({ flow, state: 'failed' });
    throw new UnrecoverableError((e as Error).message);
  }
  throw e;
}

export function extractProcessor(deps: PipelineDeps) {
  return async (job: Job<ExtractJob>, token?: string): Promise<string> => {
    await refuseForeignJob(deps, job, token);
    const { runId } = job.data;
    let outcome;
    try {
      outcome = await extractRun(deps, runId);
    } catch (e) {
      return onError(deps, job, e);
    }
    switch (outcome) {
      case 'merged':
        await wake(deps, runId);
        return outcome;
      case 'staged': {
        const flow = await flowOfRun(deps.db, runId);
        if (flow) await enqueueMerge(deps, runId, flow).catch((e: unknown) => deps.log.warn({ run: runId, err: e }, 'merge not enqueued; the sweeper will'));
        return outcome;
      }
      case 'busy':
        return later(job, token, 2000);
      case 'waiting':
        // The runs this one depends on (same file, earlier in the order) are still working: soon.
        return later(job, token, 250);
      case 'paused':
        return later(job, token, 5000);
      default:
        return outcome;
    }
  };
}

export function mergeProcessor(deps: PipelineDeps) {
  return async (job: Job<MergeJob>, token?: string): Promise<string> => {
    await refuseForeignJob(deps, job, token);
    const { runId } = job.data;
    let outcome;
    try {
      outcome = await mergeRun(deps, runId);
    } catch (e) {
      return onError(deps, job, e);
    }
    switch (outcome) {
      case 'done':
      case 'failed':
        await wake(deps, runId);
        return outcome;
      case 'waiting':
        return later(job, token, 500);
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
  };
}

/** A scheduler's tick: one pull of the flow. A failed pull fails the job (shown in the dashboard); the next tick is its retry. */
export function pollProcessor(deps: PipelineDeps) {
  return async (job: Job<PollJob>, token?: string): Promise<string> => {
    await refuseForeignJob(deps, job, token);
    const r = await pullFlow(deps, job.data.flow, { trigger: 'schedule' });
    if (r.outcome === 'failed') throw new UnrecoverableError(`${r.error.code}: ${r.error.message}`);
    return r.outcome;
  };
}
