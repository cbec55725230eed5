// Duplicate keys within one payload: every earlier row of a key moves to rejects, the last row of the
// payload wins. Run before the merge (dimensions) or after it failed on a duplicate key (the others).
import { keyFields, type TargetSpec } from '../targets.ts';
import type { MergeSqlContext } from './context.ts';
import { statement, type Statement } from './statement.ts';

/** Deletes the earlier duplicates from staging and records them as rejects; rowCount says how many. */
export function rejectDuplicates(spec: TargetSpec, ctx: Pick<MergeSqlContext, 'runId' | 'table' | 'files'>): Statement {
  const keyCols = keyFields(spec).map((f) => `"${f}"`);
  const keyLabel = spec.kind === 'fact' ? spec.keys.map((k) => k.label).join(' and ') : spec.kind === 'keyed' ? keyFields(spec).join(' and ') : 'code';
  return statement(`
    WITH ranked AS (
      SELECT ctid AS id, row_number() OVER w AS rn, first_value(_line) OVER w AS kept_line, first_value(_file) OVER w AS kept_file
      FROM ${ctx.table} WHERE NOT _reject WINDOW w AS (PARTITION BY ${keyCols.join(', ')} ORDER BY _file DESC, _line DESC)
    ), dropped AS (
      DELETE FROM ${ctx.table} s USING ranked r WHERE s.ctid = r.id AND r.rn > 1
      RETURNING s._line, s._file, r.kept_line, r.kept_file, ${keyCols.map((c) => `s.${c}`).join(` || ' / ' || `)} AS key
    )
    INSERT INTO rejects (run_id, file_name, line, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, $3, 'duplicate',
           format('duplicate %s %s: superseded by %s line %s', $4::text, key, ($2::text[])[kept_file + 1], kept_line)
    FROM dropped`, [ctx.runId, ctx.files, keyCols.join(',').replace(/"/g, ''), keyLabel]);
}
