// The guard rails of a flow (`guard` in schemas/flow.schema.json): a run that would change more than
// `maxChangeRatio` of the rows in scope is held for a person — unless the change is below the absolute
// floor `minRows`, the scope is smaller than `minRowsInScope`, or the scope was empty (a first load).
// Issue 17: a new CSV flow's first 2-row run was held ("100 % > 50 %"); a guard on tiny scopes only
// stands in the way.
import type { Flow } from '../schemas/index.ts';

/** Whether `changed` of `inScope` rows breaks the flow's guard (false without a guard or a scope). */
export function guardExceeded(guard: Flow['guard'], changed: number, inScope: number | null): boolean {
  if (guard?.maxChangeRatio === undefined || inScope === null || inScope <= 0) return false;
  if (inScope < (guard.minRowsInScope ?? 1)) return false;
  if (changed < (guard.minRows ?? 0)) return false;
  return changed / inScope > guard.maxChangeRatio;
}

/**
 * A first load of a flow whose scope is its own rows (`scope: flow`): no earlier run of it finished,
 * so it held no rows, whatever the counts say — rows another flow wrote that this run takes over count
 * as updated, yet were never in this flow's scope. With `scope: keys` the scope is the keys' rows
 * whoever wrote them, counted as they were: no exception there.
 */
export const FIRST_LOAD_SQL = `SELECT NOT EXISTS (SELECT 1 FROM runs WHERE flow_id = $1 AND id <> $2 AND state = 'done') AS first`;
