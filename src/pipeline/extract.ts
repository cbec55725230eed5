// The old path of the extract stage, kept for the modules that still import it (merge.ts): the stage
// itself lives in extract/ and the run lifecycle in lifecycle/.
import type { PipelineDeps } from './deps.ts';
import { runsEnded } from './lifecycle/index.ts';

export { extractRun, effectiveMode, PathHints, writeWithBackpressure, type ExtractOutcome, type RunMode } from './extract/index.ts';
export { failRun } from './lifecycle/index.ts';

/** Whether every run in `ids` has ended: the lifecycle's runsEnded, as merge.ts calls it. */
export function dependenciesSettled(deps: Pick<PipelineDeps, 'pool'>, ids: readonly (number | string)[]): Promise<boolean> {
  return runsEnded(deps.pool, ids);
}
