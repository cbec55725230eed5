// The run lifecycle: every state change of a run (received → extracting → staged → merging → done |
// failed | held | rejected), the claim that decides whether a run may go now, and what its end reports.
import type { ErrorCode } from '../../errors/index.ts';
import type { PipelineDeps } from '../deps.ts';
import { dropStaging } from '../staging-table.ts';
import { markFailed } from './transitions.ts';

export { isTerminal, OPEN_STATES, TERMINAL_STATES, type Queryable, type RunState } from './states.ts';
export { blockerOf, claimRun, hasEarlierOpenRun, runsEnded, type ClaimOptions, type ClaimResult, type ClaimStage } from './claim.ts';
export {
  backToReceived, countMergeRejects, createRun, finishFinalize, holdRun, logChanges, markApproved, markDirectDone, markFailed, markMerged, markMerging,
  markRejected, markStaged, markStagingKept, type MergeResult, type StagedCounts,
} from './transitions.ts';
export { observeFreshness, recordCompletion, runSettled, type Completion } from './completion.ts';

/** Fails a run for good: its staging and partial rejects are removed, the store is untouched. */
export async function failRun(deps: Pick<PipelineDeps, 'db' | 'pool'>, runId: number, code: ErrorCode, message: string): Promise<void> {
  await dropStaging(deps.db, runId);
  await deps.pool.query('DELETE FROM rejects WHERE run_id = $1', [runId]);
  await markFailed(deps.pool, runId, code, message);
}
