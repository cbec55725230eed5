-- reference property: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "property" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s."property")) AS any
-- values: ["property","erp"]

-- reference property: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "property" AS code FROM staging.run_42 WHERE "property" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO properties (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["property","erp"]

-- reference property: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "property" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s."property")
      RETURNING s._line, s._file, s._path, s."property" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad
-- values: [42,"property","erp",["offers0_1.xml","offers0_2.xml"],"property","property"]

-- duplicates
WITH ranked AS (
      SELECT ctid AS id, row_number() OVER w AS rn, first_value(_line) OVER w AS kept_line, first_value(_file) OVER w AS kept_file
      FROM staging.run_42 WHERE NOT _reject WINDOW w AS (PARTITION BY "property", "code" ORDER BY _file DESC, _line DESC)
    ), dropped AS (
      DELETE FROM staging.run_42 s USING ranked r WHERE s.ctid = r.id AND r.rn > 1
      RETURNING s._line, s._file, r.kept_line, r.kept_file, s."property" || ' / ' || s."code" AS key
    )
    INSERT INTO rejects (run_id, file_name, line, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, $3, 'duplicate',
           format('duplicate %s %s: superseded by %s line %s', $4::text, key, ($2::text[])[kept_file + 1], kept_line)
    FROM dropped
-- values: [42,["offers0_1.xml","offers0_2.xml"],"property,code","property and code"]

-- delta: upsert
WITH src AS (SELECT ref_property.internal_id AS property_id, s."code" AS code, s.value AS value FROM staging.run_42 s JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property" WHERE NOT s._reject),
    changed AS MATERIALIZED (
      SELECT x.*, (t.property_id IS NULL) AS is_new
      FROM src x LEFT JOIN property_values t ON t.property_id = x.property_id AND t.code = x.code
      WHERE t.property_id IS NULL OR t.flow_id IS DISTINCT FROM $2
        OR (t.value) IS DISTINCT FROM (x.value)
    ), up AS (
      INSERT INTO property_values AS t (property_id, code, value, flow_id, run_id)
      SELECT property_id, code, value, $2, $3 FROM changed
      ON CONFLICT (property_id, code) DO UPDATE SET value = excluded.value, flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
    )
    SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd FROM changed
-- values: ["erp",7,42]

-- delta: remove: none

-- delta: count flow
SELECT count(*)::bigint AS n FROM property_values WHERE flow_id = $1
-- values: [7]

-- snapshot scope flow: upsert: as delta: upsert

-- snapshot scope flow: remove
WITH keys AS MATERIALIZED (SELECT ref_property.internal_id AS property_id, s."code" AS code FROM staging.run_42 s JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property"),
      del AS (
        DELETE FROM property_values t WHERE (t.flow_id = $2)
          AND NOT EXISTS (SELECT 1 FROM keys x WHERE x.property_id = t.property_id AND x.code = t.code)
        RETURNING 1
      )
      SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7]

-- snapshot scope flow: count flow: as delta: count flow

-- snapshot scope keys: upsert: as delta: upsert

-- snapshot scope keys: remove
WITH keys AS MATERIALIZED (SELECT ref_property.internal_id AS property_id, s."code" AS code FROM staging.run_42 s JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property"),
      del AS (
        DELETE FROM property_values t WHERE (t.property_id IN (SELECT property_id FROM keys))
          AND NOT EXISTS (SELECT 1 FROM keys x WHERE x.property_id = t.property_id AND x.code = t.code)
        RETURNING 1
      )
      SELECT count(*)::bigint AS n FROM del
-- values: ["erp"]

-- snapshot scope keys: count flow: as delta: count flow

-- snapshot of an open group: upsert: as delta: upsert

-- snapshot of an open group: remove: none

-- snapshot of an open group: count flow: as delta: count flow

-- finalize scope flow, 2 staged: scope ids: none

-- finalize scope flow, 2 staged: counts
SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM property_values t WHERE t.flow_id = $2
-- values: [[40,41,42],7]

-- finalize scope flow, 2 staged: remove
WITH del AS (
          DELETE FROM property_values t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT ref_property.internal_id AS property_id, s."code" AS code FROM staging.run_42 s JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property" UNION ALL SELECT ref_property.internal_id AS property_id, s."code" AS code FROM staging.run_43 s JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property") x WHERE x.property_id = t.property_id AND x.code = t.code)
          RETURNING t.property_id, t.code
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize scope flow, 0 staged: scope ids: none

-- finalize scope flow, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize scope flow, 0 staged: remove
WITH del AS (
          DELETE FROM property_values t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.property_id, t.code
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize scope keys, 2 staged: scope ids
SELECT DISTINCT property_id AS id FROM (SELECT ref_property.internal_id AS property_id, s."code" AS code FROM staging.run_42 s JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property" UNION ALL SELECT ref_property.internal_id AS property_id, s."code" AS code FROM staging.run_43 s JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property") x UNION 
        SELECT DISTINCT property_id AS id FROM property_values WHERE run_id = ANY($2::bigint[])
-- values: ["erp",[40,41,42]]

-- finalize scope keys, 2 staged: counts
SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM property_values t WHERE t.property_id = ANY($2::bigint[])
-- values: [[40,41,42],[11,12]]

-- finalize scope keys, 2 staged: remove
WITH del AS (
          DELETE FROM property_values t WHERE t.property_id = ANY($2::bigint[]) AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT ref_property.internal_id AS property_id, s."code" AS code FROM staging.run_42 s JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property" UNION ALL SELECT ref_property.internal_id AS property_id, s."code" AS code FROM staging.run_43 s JOIN external_ids ref_property ON ref_property.entity = 'property' AND ref_property.system = $1 AND ref_property.external_id = s."property") x WHERE x.property_id = t.property_id AND x.code = t.code)
          RETURNING t.property_id, t.code
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[11,12],[40,41,42]]

-- finalize scope keys, 0 staged: scope ids
SELECT DISTINCT property_id AS id FROM property_values WHERE run_id = ANY($2::bigint[])
-- values: ["erp",[40,41,42]]

-- finalize scope keys, 0 staged: counts: as finalize scope keys, 2 staged: counts

-- finalize scope keys, 0 staged: remove
WITH del AS (
          DELETE FROM property_values t WHERE t.property_id = ANY($2::bigint[]) AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.property_id, t.code
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[11,12],[40,41,42]]

-- finalize history off, 2 staged: scope ids: none

-- finalize history off, 2 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 2 staged: remove: as finalize scope flow, 2 staged: remove

-- finalize history off, 0 staged: scope ids: none

-- finalize history off, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 0 staged: remove: as finalize scope flow, 0 staged: remove
