// The installation check every processor runs first: a job added by another database (two
// installations sharing one Redis queue prefix) is handed back untouched, never run.
import { DelayedError, type Job } from 'bullmq';
import type { PipelineDeps } from '../src/pipeline/deps.ts';
import { installationId } from '../src/pipeline/installation.ts';

/**
 * How long a refused job waits before a worker looks at it again. BullMQ offers a worker three ways
 * to let go of a job: fail it (it would burn the owner's attempts and, on the last one, fail its run),
 * remove it (the owner's run would wait for the sweeper), or move it back to delayed and throw
 * DelayedError, which neither counts an attempt nor changes the data. We take the third: the job
 * comes back after this delay, when a worker of its own installation can take it. Short, because
 * the owner waits this long whenever a foreign worker happened to be first.
 */
export const REFUSE_DELAY_MS = 1000;

/** Jobs already reported, so a job bouncing between foreign workers logs once per process, not per bounce. */
const reported = new Set<string>();

/**
 * Returns when the job belongs to this worker's installation (or predates installation ids);
 * otherwise logs one line naming both installations and the prefix, puts the job back as delayed
 * and throws DelayedError, so BullMQ leaves the job alone.
 */
export async function refuseForeignJob(deps: PipelineDeps, job: Job<{ installation?: string }>, token: string | undefined): Promise<void> {
  const theirs = job.data.installation;
  if (theirs === undefined) return;
  const own = await installationId(deps.db);
  if (theirs === own) return;
  const key = `${job.queueName}/${job.id}/${theirs}`;
  if (!reported.has(key)) {
    if (reported.size >= 1000) reported.clear();
    reported.add(key);
    deps.log.warn({ queue: job.queueName, job: job.id, jobInstallation: theirs, installation: own, prefix: deps.config.MAGISTRAL_QUEUE_PREFIX },
      `refused job ${job.id} of queue ${job.queueName}: it belongs to installation ${theirs}, this worker serves installation ${own}; ` +
      `both use queue prefix "${deps.config.MAGISTRAL_QUEUE_PREFIX}" — give each installation its own MAGISTRAL_QUEUE_PREFIX (or leave it unset)`);
  }
  await job.moveToDelayed(Date.now() + REFUSE_DELAY_MS, token);
  throw new DelayedError();
}
