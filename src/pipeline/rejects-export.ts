// A run's rejected rows as a CSV an administrator opens in Excel (issue 15: "rejects … paged, CSV
// download"): `;`-separated with a BOM (Excel's Russian locale reads UTF-8 only with it), every text
// guarded against formula injection — a reject's reason and record are the sender's bytes.
import type { Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { csvField } from '../security/spreadsheet-cells.ts';

/** Rows read per statement: a run may carry millions of rejects; memory stays at one batch. */
const BATCH = 2_000;

export const REJECTS_CSV_HEADER = ['file', 'line', 'path', 'field', 'rule', 'reason', 'record'];

/** The CSV text of run `runId`'s rejects, batch by batch in id order (keyset, never OFFSET). */
export async function* rejectsCsv(db: Kysely<Database>, runId: number): AsyncGenerator<string> {
  yield `\uFEFF${REJECTS_CSV_HEADER.join(';')}\r\n`;
  let after = 0;
  for (;;) {
    const rows = await db.selectFrom('rejects').select(['id', 'file_name', 'line', 'path', 'field', 'rule', 'reason', 'record'])
      .where('run_id', '=', runId).where('id', '>', after).orderBy('id').limit(BATCH).execute();
    if (!rows.length) return;
    yield rows.map((r) => [r.file_name, r.line, r.path, r.field, r.rule, r.reason, r.record === null ? null : JSON.stringify(r.record)]
      .map(csvField).join(';')).join('\r\n') + '\r\n';
    after = rows[rows.length - 1]!.id;
    if (rows.length < BATCH) return;
  }
}
