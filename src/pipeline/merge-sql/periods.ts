// Prices with validity (SAP condition records: DATAB…DATBI, a deletion flag, quantity scales). Every
// period of a key is kept in `price_periods`; `prices` holds the period in force now, so every portal
// read stays a primary-key lookup. A run's merge writes the periods, then puts the periods in force of
// the keys it touched into `prices`; the price roll (price-roll.ts) does the same for keys whose period
// started or ended since it last looked — a price valid from a future date becomes the price on that
// date without another message.
import type { FactSpec } from '../targets.ts';
import type { MergeSqlContext } from './context.ts';
import { factKey } from './keys.ts';
import { statement, type Statement } from './statement.ts';

/** Columns of a period besides its key and bounds, as in `prices`. */
const VALUE_COLS = ['value', 'currency', 'unit', 'factor', 'tiers'] as const;

/** A date without time is a whole day in the flow's time zone; a date-time is an instant. */
const DATE_ONLY = `'^[0-9]{4}-[0-9]{2}-[0-9]{2}$'`;

function startSql(field: string, tz: string): string {
  return `CASE WHEN s."${field}" IS NULL THEN '-infinity'::timestamptz
    WHEN s."${field}" ~ ${DATE_ONLY} THEN (s."${field}"::date::timestamp AT TIME ZONE ${tz})
    ELSE s."${field}"::timestamptz END`;
}

/** `validTo` is the last day the price holds (inclusive), so the period ends at the next midnight. */
function endSql(field: string, tz: string): string {
  return `CASE WHEN s."${field}" IS NULL THEN NULL::timestamptz
    WHEN s."${field}" ~ ${DATE_ONLY} THEN ((s."${field}"::date + 1)::timestamp AT TIME ZONE ${tz})
    ELSE s."${field}"::timestamptz END`;
}

export interface PeriodsMerge {
  /** Whether the run's rows carry validity (else the plain fact merge runs). */
  present: Statement<{ any: boolean }>;
  /** Moves rows whose validity ends before it starts to rejects; rowCount says how many. */
  rejectInverted: Statement;
  /** Writes the staged periods (deleting the ones flagged deleted); counts the periods written and deleted. */
  upsert: Statement<{ written: number; deleted: number }>;
  /** Puts the periods in force now of the touched keys into `prices`; counts rows inserted, updated, removed. */
  applyInForce: Statement<InForceCounts>;
}

export interface InForceCounts {
  ins: number;
  upd: number;
  del: number;
}

/** Whether staging table `table` holds a row carrying validity (then the run's rows are periods). */
export function periodRowsPresent(spec: FactSpec, table: string): Statement<{ any: boolean }> {
  const p = spec.periods!;
  return statement(`SELECT EXISTS (SELECT 1 FROM ${table} WHERE NOT _reject
      AND ("${p.validFrom}" IS NOT NULL OR "${p.validTo}" IS NOT NULL OR "${p.deleted}" IS NOT NULL)) AS any`);
}

export function compilePeriods(spec: FactSpec, ctx: MergeSqlContext, timezone: string): PeriodsMerge {
  const p = spec.periods!;
  const { table } = ctx;
  const [part, item] = spec.keys;
  const values = spec.values.filter((v) => (VALUE_COLS as readonly string[]).includes(v.column));
  const tz = `'${timezone.replace(/'/g, "''")}'`;
  // The staged rows as periods: key, bounds, values, and whether the source deleted the period.
  // `system` is the placeholder of the codes' system in the statement using it.
  const srcWith = (system: string) => {
    const key = factKey(spec, system);
    return `
    SELECT ${key.exprs.join(', ')}, ${startSql(p.validFrom, tz)} AS valid_from, ${endSql(p.validTo, tz)} AS valid_until,
      ${values.map((v) => `${v.expr} AS ${v.column}`).join(', ')}, coalesce(s."${p.deleted}" = 'true', false) AS del, s._file, s._line
    FROM ${table} s ${key.joins} WHERE NOT s._reject`;
  };
  const src = srcWith('$1');
  const keyCols = `${part.column}, ${item.column}`;
  const valueList = VALUE_COLS.join(', ');

  const inverted = `${endSql(p.validTo, tz)} <= ${startSql(p.validFrom, tz)}`;
  return {
    present: periodRowsPresent(spec, table),
    rejectInverted: statement(`
      WITH bad AS (
        DELETE FROM ${table} s WHERE NOT s._reject AND s."${p.validTo}" IS NOT NULL AND ${inverted}
        RETURNING s._line, s._file, s._path, s."${p.validFrom}" AS vf, s."${p.validTo}" AS vt
      )
      INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
      SELECT $1, ($2::text[])[_file + 1], _line, _path, '${p.validTo}', 'validity',
        format('validTo %s is before validFrom %s: the price would never hold', vt, coalesce(vf, '(none)')) FROM bad`,
    [ctx.runId, ctx.files]),
    // The last row of a period in the payload wins (a later IDoc corrects an earlier one).
    upsert: statement(`
      WITH src AS (${src}),
      last AS (
        SELECT DISTINCT ON (${keyCols}, valid_from) * FROM src ORDER BY ${keyCols}, valid_from, _file DESC, _line DESC
      ),
      gone AS (
        DELETE FROM price_periods t USING last l
        WHERE l.del AND t.${part.column} = l.${part.column} AND t.${item.column} = l.${item.column} AND t.valid_from = l.valid_from
        RETURNING 1
      ),
      up AS (
        INSERT INTO price_periods AS t (${keyCols}, valid_from, valid_until, ${valueList}, flow_id, run_id)
        SELECT ${keyCols}, valid_from, valid_until, ${valueList}, $2, $3 FROM last WHERE NOT del
        ON CONFLICT (${keyCols}, valid_from) DO UPDATE SET valid_until = excluded.valid_until,
          ${VALUE_COLS.map((c) => `${c} = excluded.${c}`).join(', ')}, flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
        WHERE (t.valid_until, ${VALUE_COLS.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM
              (excluded.valid_until, ${VALUE_COLS.map((c) => `excluded.${c}`).join(', ')})
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM up)::int AS written, (SELECT count(*) FROM gone)::int AS deleted`,
    [ctx.system, ctx.flowId, ctx.runId]),
    applyInForce: inForceStatement(
      `SELECT DISTINCT ${keyCols}, $1::int AS flow_id, $2::bigint AS run_id FROM (${srcWith('$4')}) k`,
      [ctx.flowId, ctx.runId, ctx.history, ctx.system],
    ),
  };
}

/**
 * Puts the period in force at `now()` of each key of `keysSql` (columns price_type_id, product_id,
 * flow_id, run_id) into `prices`: inserted or updated where it differs, and a key with no period in force
 * any more loses its price (only a price its own flow wrote: a price another source keeps is not
 * touched). History rows name the run that brought the period. Parameter $3 says whether to write history.
 */
export function inForceStatement(keysSql: string, values: unknown[]): Statement<InForceCounts> {
  return statement(`
    WITH keys AS MATERIALIZED (${keysSql}),
    eff AS (
      -- The row's end is when the next change happens: its own end, or an overlapping later period's start,
      -- so a read of the row knows exactly when to look at the periods instead (price-at.ts).
      SELECT DISTINCT ON (pp.price_type_id, pp.product_id) pp.price_type_id, pp.product_id, pp.value, pp.currency, pp.unit, pp.factor,
        pp.tiers, pp.valid_from, pp.flow_id, pp.run_id,
        least(pp.valid_until, (SELECT min(n.valid_from) FROM price_periods n
          WHERE n.price_type_id = pp.price_type_id AND n.product_id = pp.product_id AND n.valid_from > pp.valid_from)) AS valid_until
      FROM keys k JOIN price_periods pp ON pp.price_type_id = k.price_type_id AND pp.product_id = k.product_id
      WHERE pp.valid_from <= now() AND (pp.valid_until IS NULL OR pp.valid_until > now())
      ORDER BY pp.price_type_id, pp.product_id, pp.valid_from DESC
    ),
    changed AS MATERIALIZED (
      SELECT e.price_type_id, e.product_id, e.value, e.currency, e.unit, e.factor, e.tiers,
        nullif(e.valid_from, '-infinity') AS valid_from, e.valid_until, e.flow_id, e.run_id,
        t.value AS old_value, (t.product_id IS NULL) AS is_new
      FROM eff e LEFT JOIN prices t ON t.price_type_id = e.price_type_id AND t.product_id = e.product_id
      WHERE t.product_id IS NULL
         OR (t.value, t.currency, t.unit, t.factor, t.tiers, t.valid_from, t.valid_until, t.flow_id)
            IS DISTINCT FROM (e.value, e.currency, e.unit, e.factor, e.tiers, nullif(e.valid_from, '-infinity'), e.valid_until, e.flow_id)
    ),
    up AS (
      INSERT INTO prices AS t (price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, flow_id, run_id)
      SELECT price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, flow_id, run_id FROM changed
      ON CONFLICT (price_type_id, product_id) DO UPDATE SET value = excluded.value, currency = excluded.currency, unit = excluded.unit,
        factor = excluded.factor, tiers = excluded.tiers, valid_from = excluded.valid_from, valid_until = excluded.valid_until,
        flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
    ),
    gone AS (
      DELETE FROM prices t USING keys k
      WHERE t.price_type_id = k.price_type_id AND t.product_id = k.product_id AND t.flow_id = k.flow_id
        AND NOT EXISTS (SELECT 1 FROM eff e WHERE e.price_type_id = k.price_type_id AND e.product_id = k.product_id)
      RETURNING t.price_type_id, t.product_id, t.value, k.run_id
    ),
    hist_u AS (
      INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value, new_value)
      SELECT run_id, price_type_id, product_id, 'U', old_value, value FROM changed
      WHERE $3::boolean AND NOT is_new AND old_value IS DISTINCT FROM value
    ),
    hist_d AS (
      INSERT INTO price_history (run_id, price_type_id, product_id, op, old_value)
      SELECT run_id, price_type_id, product_id, 'D', value FROM gone WHERE $3::boolean
    )
    SELECT count(*) FILTER (WHERE is_new)::int AS ins, count(*) FILTER (WHERE NOT is_new)::int AS upd,
      (SELECT count(*) FROM gone)::int AS del
    FROM changed`, values);
}

/**
 * The roll: keys whose period started or ended in (since, until], each with the flow and run of the
 * period that moved, put in force as of now.
 */
export function rollStatement(since: Date, until: Date): Statement<InForceCounts> {
  return inForceStatement(`
    SELECT DISTINCT ON (price_type_id, product_id) price_type_id, product_id, flow_id, run_id FROM (
      SELECT price_type_id, product_id, flow_id, run_id, valid_from AS at FROM price_periods WHERE valid_from > $1 AND valid_from <= $2
      UNION ALL
      SELECT price_type_id, product_id, flow_id, run_id, valid_until FROM price_periods WHERE valid_until > $1 AND valid_until <= $2
    ) moved ORDER BY price_type_id, product_id, at DESC`, [since, until, true]);
}
