// What a held run would change, kept with the run for the person who decides (issue 15: "what it would
// change — counts per kind and a sample of rows with old → new values"). Taken in the merge's own
// transaction just before the guard rolls it back, so it is exactly what approving would write — no
// second diff to keep in step with the merge. Facts (prices, stock, links) only: dimensions keep no
// old values to show.
import type pg from 'pg';
import { query } from '../db/query.ts';
import { compileFact, type FactSampleRow } from './merge-sql/fact.ts';
import type { MergeSqlContext } from './merge-sql/context.ts';
import type { TargetSpec } from './targets.ts';

/** Rows of each kind kept: enough to judge, small enough for a runs row. */
export const HELD_SAMPLE_ROWS = 20;

/**
 * Bounded: the new rows are found through the staged rows (a nested loop that stops at the sample's
 * size); should the planner hash all of them instead, the sample gives up rather than delay the hold.
 */
const SAMPLE_TIMEOUT_MS = 5_000;

export interface HeldSampleRow {
  /** new · changed · removed · written (new or changed: the flow keeps no history, so no old value). */
  op: 'new' | 'changed' | 'removed' | 'written';
  /** The row's key as the ERP names it: e.g. { priceType: 'BASE', product: 'SKU-1' }. */
  key: Record<string, string>;
  old: string | null;
  new: string | null;
}

export interface HeldSample {
  rows: HeldSampleRow[];
  /** Why there are no rows of some kind (no history, a dimension target, the sample timed out). */
  note?: string;
}

/** Who decided on a held run, and why: kept with the run once it is approved or rejected. */
export interface RunDecision {
  action: 'approved' | 'rejected';
  /** A console user, `admin token`, or `cli (USER)`. */
  by: string;
  at: string;
  comment: string | null;
  /** The guard's reason the run was held for (the run's held_reason is cleared when it moves on). */
  heldReason: string | null;
}

/** Who asks and why, as the caller of approve or reject knows it. */
export interface DecisionInput {
  by?: string;
  comment?: string;
}

const OP_ORDER: ReadonlyArray<FactSampleRow['op']> = ['U', 'I', 'D', 'W'];
const NATURAL = new Intl.Collator('ru', { numeric: true });

const OPS: Record<FactSampleRow['op'], HeldSampleRow['op']> = { I: 'new', U: 'changed', D: 'removed', W: 'written' };

/** The sample of a merge about to be rolled back; `client` is inside that merge's transaction. */
export async function takeHeldSample(client: pg.PoolClient, spec: TargetSpec, ctx: MergeSqlContext): Promise<HeldSample> {
  if (spec.kind !== 'fact') return { rows: [], note: `no row sample for ${spec.name}: only prices, stock and links keep old values` };
  const [part, item] = spec.keys;
  await client.query('SAVEPOINT held_sample');
  try {
    // LOCAL: the rollback that follows ends it with the transaction.
    await client.query(`SET LOCAL statement_timeout = ${SAMPLE_TIMEOUT_MS}`);
    const found = await query(client, compileFact(spec, ctx).sample(HELD_SAMPLE_ROWS));
    // Kinds in a fixed order, keys in natural order (P2 before P10): a person reads it like a list.
    found.sort((a, b) => OP_ORDER.indexOf(a.op) - OP_ORDER.indexOf(b.op) || NATURAL.compare(a.item_code, b.item_code) || NATURAL.compare(a.part_code, b.part_code));
    const rows = found.map((x) => ({ op: OPS[x.op], key: { [part.field]: x.part_code, [item.field]: x.item_code }, old: x.old, new: x.new }));
    return ctx.history ? { rows } : { rows, note: 'the flow keeps no history (history: false): old values and removed rows are not known before the merge' };
  } catch (e) {
    await client.query('ROLLBACK TO SAVEPOINT held_sample');
    return { rows: [], note: `no row sample: ${(e as Error).message}` };
  }
}
