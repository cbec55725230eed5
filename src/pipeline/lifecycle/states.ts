// The states of a run, grouped once: which have ended, which are still open. Every query and check
// of the pipeline names these lists instead of spelling the states out again.
import { TERMINAL_STATES, type RunState } from '../../db/index.ts';

export { TERMINAL_STATES };
export type { RunState };

/** States a run may still leave: it is working, waiting for its next stage, or held for a person. */
export const OPEN_STATES: readonly RunState[] = ['received', 'extracting', 'staged', 'merging', 'held'];

export function isTerminal(state: RunState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** Any lifecycle statement runs on a pool or inside a caller's transaction (its client). */
export interface Queryable {
  query: import('pg').Pool['query'];
}
