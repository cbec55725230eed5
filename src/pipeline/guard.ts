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

/**
 * Why the guard held a run. The run records it as English text (`held_reason`, as the logs, the CLI and the
 * 1C exchange's answer say it); the console reads it back (readGuardHold) to say it in Russian, with the
 * numbers as they were when the run was held. Shares are percentages to one decimal, as the text has them.
 */
export type GuardHold =
  | { kind: 'change'; changed: number; inScope: number; percent: number; limitPercent: number; inserted: number; updated: number; removed: number }
  /** A snapshot group's finalize: rows of the flow that no file of the export carried. */
  | { kind: 'removal'; removed: number; inScope: number; percent: number; limitPercent: number };

const pct = (n: number): string => n.toFixed(1);

/** The held_reason of a guard's hold. */
export function guardHoldReason(h: GuardHold): string {
  if (h.kind === 'change') {
    return `would change ${h.changed} of ${h.inScope} rows in scope (${pct(h.percent)} % > ${pct(h.limitPercent)} %): `
      + `${h.inserted} inserted, ${h.updated} updated, ${h.removed} removed`;
  }
  return `would remove ${h.removed} of ${h.inScope} rows in scope that no file of the export carried (${pct(h.percent)} % > ${pct(h.limitPercent)} %)`;
}

const CHANGE = /^would change (\d+) of (\d+) rows in scope \((\d+\.\d) % > (\d+\.\d) %\): (\d+) inserted, (\d+) updated, (\d+) removed$/;
const REMOVAL = /^would remove (\d+) of (\d+) rows in scope that no file of the export carried \((\d+\.\d) % > (\d+\.\d) %\)$/;

/** A held_reason read back: the guard's hold, or null for any other reason (a stage's HoldRunError). */
export function readGuardHold(reason: string | null): GuardHold | null {
  if (!reason) return null;
  let m = CHANGE.exec(reason);
  if (m) {
    const [changed, inScope, percent, limitPercent, inserted, updated, removed] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
    return { kind: 'change', changed, inScope, percent, limitPercent, inserted, updated, removed };
  }
  m = REMOVAL.exec(reason);
  if (m) {
    const [removed, inScope, percent, limitPercent] = m.slice(1).map(Number) as [number, number, number, number];
    return { kind: 'removal', removed, inScope, percent, limitPercent };
  }
  return null;
}
