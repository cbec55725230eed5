// Where a set of runs stands, as an exchange reports it back to the system that sent the payload (1C asks
// again until it hears success or failure): state, counts, and whether a person must act first.
import type { RunStatus } from '../port/port.ts';
import type { PipelineDeps } from './deps.ts';

interface Row {
  id: string;
  state: RunStatus['state'];
  error: string | null;
  held_reason: string | null;
  flow: string;
  paused: boolean;
  blocked_by: string | null;
  rows_read: number;
  rows_inserted: number;
  rows_updated: number;
  rows_unchanged: number;
  rows_rejected: number;
  rows_removed: number;
}

export async function runStatuses(deps: Pick<PipelineDeps, 'pool'>, ids: readonly number[]): Promise<RunStatus[]> {
  if (!ids.length) return [];
  const r = await deps.pool.query<Row>(`
    SELECT r.id, r.state, r.error, r.held_reason, f.name AS flow, f.paused,
           r.rows_read, r.rows_inserted, r.rows_updated, r.rows_unchanged, r.rows_rejected, r.rows_removed,
           (SELECT min(h.id) FROM runs h WHERE h.flow_id = r.flow_id AND h.id < r.id AND h.state = 'held') AS blocked_by
    FROM runs r JOIN flows f ON f.id = r.flow_id WHERE r.id = ANY($1::bigint[]) ORDER BY r.id`, [[...ids]]);
  return r.rows.map((x) => ({
    id: Number(x.id), flow: x.flow, state: x.state, error: x.error, heldReason: x.held_reason, paused: x.paused,
    blockedBy: x.blocked_by === null ? null : Number(x.blocked_by),
    rows: {
      read: Number(x.rows_read), inserted: Number(x.rows_inserted), updated: Number(x.rows_updated), unchanged: Number(x.rows_unchanged),
      rejected: Number(x.rows_rejected), removed: Number(x.rows_removed),
    },
  }));
}
