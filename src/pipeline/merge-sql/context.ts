// What the merge compiler needs of a run besides the target: ids, names and the switches that change
// the SQL (mode, scope, history). Plain values only: compiling never touches a database.
import type { Flow } from '../../schemas/types.gen.ts';

export interface MergeSqlContext {
  runId: number;
  flowId: number;
  /** Namespace of the run's external codes. */
  system: string;
  /** The run's staging table (schema-qualified). */
  table: string;
  /** The run's effective mode (what its payload declared, else the flow's). */
  mode: Flow['mode'];
  /** The run belongs to an open snapshot group: it upserts only; the group's finalize run removes. */
  deferRemoval: boolean;
  /** What a snapshot covers: the flow's rows, or the rows of the keys present. */
  scope: 'flow' | 'keys';
  /** Whether facts write their history tables. */
  history: boolean;
  /** The run's file names in payload order (`_file` indexes them from 0). */
  files: readonly string[];
  /** The inbox ids of those files, in the same order (history rows name their file by it). */
  inboxIds: readonly number[];
}

/** The switches of a flow definition that change a merge's SQL. */
export function flowSwitches(flow: Flow): Pick<MergeSqlContext, 'scope' | 'history' | 'system'> {
  return { scope: flow.scope === 'keys' ? 'keys' : 'flow', history: flow.history !== false, system: flow.source.system ?? 'local' };
}

/** Whether this merge removes what the payload lacks (a snapshot whose removal is not deferred to its group). */
export function removesNow(ctx: Pick<MergeSqlContext, 'mode' | 'deferRemoval'>): boolean {
  return ctx.mode === 'snapshot' && !ctx.deferRemoval;
}
