// The installation check every processor runs first: a job added by another database (two
// installations sharing one Redis queue prefix) is handed back untouched, never run.
import { DelayedError, type Job, type Worker } from 'bullmq';
import type { PipelineDeps } from '../src/pipeline/deps.ts';
import { installationId } from '../src/pipeline/installation.ts';

/**
 * How long a refused job waits before a worker looks at it again. BullMQ offers a worker three ways
 * to let go of a job: fail it (it would burn the owner's attempts and, on the last one, fail its run),
 * remove it (the owner's run would wait for its sweeper), or move it back to delayed and throw
 * DelayedError, which neither counts an attempt nor changes the job. We take the third: the job
 * comes back after this delay, for a worker of its own installation. Short, because the owner waits
 * this long whenever a foreign worker happened to be first.
 */
export const REFUSE_DELAY_MS = 1000;

/**
 * How long a worker that refused a job takes no jobs at all. BullMQ tells the worker that just
 * delayed a job when it is due, so without a pause that worker (another of its slots) is first to
 * take it again, and the job bounces between foreign workers while its owner waits.
 */
export const REFUSE_PAUSE_MS = REFUSE_DELAY_MS + 500;

/** Thrown by a processor that handed a foreign job back; BullMQ treats it as a DelayedError. */
export class ForeignJobError extends DelayedError {
  constructor(message: string) {
    super(message);
    this.name = 'ForeignJobError';
  }
}

/** Jobs already reported, so a job refused again and again logs once per process, not per refusal. */
const reported = new Set<string>();

/**
 * Returns when the job belongs to this worker's installation (or predates installation ids);
 * otherwise logs one line naming both installations and the queue prefix, moves the job back to
 * delayed and throws ForeignJobError, so BullMQ leaves the job as it is.
 */
export async function refuseForeignJob(deps: PipelineDeps, job: Job<{ installation?: string }>, token: string | undefined): Promise<void> {
  const theirs = job.data.installation;
  if (theirs === undefined) return;
  const own = await installationId(deps.db);
  if (theirs === own) return;
  const prefix = deps.config.MAGISTRAL_QUEUE_PREFIX;
  const key = `${job.queueName}/${job.id}/${theirs}`;
  if (!reported.has(key)) {
    if (reported.size >= 1000) reported.clear();
    reported.add(key);
    deps.log.warn({ queue: job.queueName, job: job.id, jobInstallation: theirs, installation: own, prefix },
      `refused job ${job.id} of queue ${job.queueName}: it belongs to installation ${theirs}, this worker serves installation ${own}; ` +
      `both use queue prefix "${prefix}": give each installation its own MAGISTRAL_QUEUE_PREFIX (or leave it unset)`);
  }
  await job.moveToDelayed(Date.now() + REFUSE_DELAY_MS, token);
  throw new ForeignJobError(`job ${job.id} belongs to installation ${theirs}`);
}

/**
 * Wraps a processor so that its worker, after refusing a foreign job, takes no jobs for
 * REFUSE_PAUSE_MS (jobs in hand go on), leaving the refused job to its own installation's workers.
 */
export function pausingOnRefusal<J extends Job, R>(worker: () => Worker | undefined, processor: (job: J, token?: string) => Promise<R>): (job: J, token?: string) => Promise<R> {
  let resumeAt = 0;
  return async (job, token) => {
    try {
      return await processor(job, token);
    } catch (e) {
      const w = worker();
      if (e instanceof ForeignJobError && w && !w.closing && Date.now() >= resumeAt) {
        resumeAt = Date.now() + REFUSE_PAUSE_MS;
        await w.pause(true);
        setTimeout(() => {
          if (!w.closing) w.resume();
        }, REFUSE_PAUSE_MS).unref();
      }
      throw e;
    }
  };
}
