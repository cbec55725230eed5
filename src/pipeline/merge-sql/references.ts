// Resolving one reference field of a staging table: unknown codes become placeholder entities (when
// the flow auto-creates the entity) or their rows move to rejects.
import type { RefSpec } from '../targets.ts';
import type { MergeSqlContext } from './context.ts';
import { refKnown } from './keys.ts';
import { Params, statement, type Statement } from './statement.ts';

/** Whether any staged code of `ref` is unknown: the daily case (none) then needs no creation lock. */
export function anyUnknown(ref: RefSpec, ctx: Pick<MergeSqlContext, 'table' | 'system'>): Statement<{ any: boolean }> {
  const col = `"${ref.field}"`;
  const p = new Params();
  const known = refKnown(ref, `s.${col}`, () => p.ref('entity', ref.entity), () => p.ref('system', ctx.system));
  return statement(`SELECT EXISTS (SELECT 1 FROM ${ctx.table} s WHERE ${col} IS NOT NULL AND NOT _reject AND NOT ${known}) AS any`, p.values);
}

/** Creates a placeholder entity and its external id for every unknown code; rowCount says how many. */
export function createPlaceholders(ref: RefSpec, ctx: Pick<MergeSqlContext, 'table' | 'system'>): Statement {
  const col = `"${ref.field}"`;
  return statement(`
      WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT ${col} AS code FROM ${ctx.table} WHERE ${col} IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO ${ref.table} (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created`, [ref.entity, ctx.system]);
}

/** Moves the rows naming an unknown code to rejects; rowCount says how many. */
export function rejectUnknown(ref: RefSpec, ctx: Pick<MergeSqlContext, 'runId' | 'table' | 'system' | 'files'>): Statement {
  const col = `"${ref.field}"`;
  // Parameters in the order run, entity, system, files, field, label (entity and system only where used).
  const p = new Params();
  const run = p.ref('run', ctx.runId);
  const known = refKnown(ref, `s.${col}`, () => p.ref('entity', ref.entity), () => p.ref('system', ctx.system));
  const files = p.ref('files', ctx.files);
  const field = p.ref('field', ref.field);
  const label = p.ref('label', ref.label);
  const reason = ref.notFound
    ? `format('unknown %s %L (%s)', ${label}::text, code, ${p.ref('notFound', ref.notFound)}::text)`
    : `format('unknown %s %L (system %s)', ${label}::text, code, ${p.ref('system', ctx.system)}::text)`;
  return statement(`
    WITH bad AS (
      DELETE FROM ${ctx.table} s WHERE ${col} IS NOT NULL AND NOT s._reject AND NOT ${known}
      RETURNING s._line, s._file, s._path, s.${col} AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT ${run}, (${files}::text[])[_file + 1], _line, _path, ${field}, 'reference', ${reason} FROM bad`,
  p.values);
}

/** Placeholders created at once beyond which the merge refreshes external_ids' statistics. */
export const ANALYZE_AFTER_CREATED = 500;
export const analyzeExternalIds: Statement = statement('ANALYZE external_ids');
