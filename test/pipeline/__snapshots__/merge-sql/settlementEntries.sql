-- reference legalEntity: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "legalEntity" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s."legalEntity")) AS any
-- values: ["legalEntity","erp"]

-- reference legalEntity: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "legalEntity" AS code FROM staging.run_42 WHERE "legalEntity" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO legal_entities (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["legalEntity","erp"]

-- reference legalEntity: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "legalEntity" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s."legalEntity")
      RETURNING s._line, s._file, s._path, s."legalEntity" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad
-- values: [42,"legalEntity","erp",["offers0_1.xml","offers0_2.xml"],"legalEntity","legal entity"]

-- duplicates
WITH ranked AS (
      SELECT ctid AS id, row_number() OVER w AS rn, first_value(_line) OVER w AS kept_line, first_value(_file) OVER w AS kept_file
      FROM staging.run_42 WHERE NOT _reject WINDOW w AS (PARTITION BY "legalEntity", "entry" ORDER BY _file DESC, _line DESC)
    ), dropped AS (
      DELETE FROM staging.run_42 s USING ranked r WHERE s.ctid = r.id AND r.rn > 1
      RETURNING s._line, s._file, r.kept_line, r.kept_file, s."legalEntity" || ' / ' || s."entry" AS key
    )
    INSERT INTO rejects (run_id, file_name, line, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, $3, 'duplicate',
           format('duplicate %s %s: superseded by %s line %s', $4::text, key, ($2::text[])[kept_file + 1], kept_line)
    FROM dropped
-- values: [42,["offers0_1.xml","offers0_2.xml"],"legalEntity,entry","legalEntity and entry"]

-- delta: upsert
WITH src AS (SELECT ref_legalEntity.internal_id AS legal_entity_id, s."entry" AS entry, (SELECT ag.internal_id FROM external_ids ag WHERE ag.entity = 'agreement' AND ag.system = ref_legalEntity.system AND ag.external_id = s.agreement) AS agreement_id, s.date::date AS entry_date, s."documentKind" AS document_kind, s."documentNumber" AS document_number, coalesce(s.debit::numeric(20,2), 0) AS debit, coalesce(s.credit::numeric(20,2), 0) AS credit, s.currency AS currency FROM staging.run_42 s JOIN external_ids ref_legalEntity ON ref_legalEntity.entity = 'legalEntity' AND ref_legalEntity.system = $1 AND ref_legalEntity.external_id = s."legalEntity" WHERE NOT s._reject),
    changed AS MATERIALIZED (
      SELECT x.*, (t.legal_entity_id IS NULL) AS is_new
      FROM src x LEFT JOIN settlement_entries t ON t.legal_entity_id = x.legal_entity_id AND t.entry = x.entry
      WHERE t.legal_entity_id IS NULL OR t.flow_id IS DISTINCT FROM $2
        OR (t.agreement_id, t.entry_date, t.document_kind, t.document_number, t.debit, t.credit, t.currency) IS DISTINCT FROM (x.agreement_id, x.entry_date, x.document_kind, x.document_number, x.debit, x.credit, x.currency)
    ), up AS (
      INSERT INTO settlement_entries AS t (legal_entity_id, entry, agreement_id, entry_date, document_kind, document_number, debit, credit, currency, flow_id, run_id)
      SELECT legal_entity_id, entry, agreement_id, entry_date, document_kind, document_number, debit, credit, currency, $2, $3 FROM changed
      ON CONFLICT (legal_entity_id, entry) DO UPDATE SET agreement_id = excluded.agreement_id, entry_date = excluded.entry_date, document_kind = excluded.document_kind, document_number = excluded.document_number, debit = excluded.debit, credit = excluded.credit, currency = excluded.currency, flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
    )
    SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd FROM changed
-- values: ["erp",7,42]

-- delta: remove: none

-- delta: count flow
SELECT count(*)::bigint AS n FROM settlement_entries WHERE flow_id = $1
-- values: [7]

-- snapshot scope flow: upsert: as delta: upsert

-- snapshot scope flow: remove
WITH keys AS MATERIALIZED (SELECT ref_legalEntity.internal_id AS legal_entity_id, s."entry" AS entry FROM staging.run_42 s JOIN external_ids ref_legalEntity ON ref_legalEntity.entity = 'legalEntity' AND ref_legalEntity.system = $1 AND ref_legalEntity.external_id = s."legalEntity"),
      del AS (
        DELETE FROM settlement_entries t WHERE (t.flow_id = $2)
          AND NOT EXISTS (SELECT 1 FROM keys x WHERE x.legal_entity_id = t.legal_entity_id AND x.entry = t.entry)
        RETURNING 1
      )
      SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7]

-- snapshot scope flow: count flow: as delta: count flow

-- snapshot scope keys: upsert: as delta: upsert

-- snapshot scope keys: remove
WITH keys AS MATERIALIZED (SELECT ref_legalEntity.internal_id AS legal_entity_id, s."entry" AS entry FROM staging.run_42 s JOIN external_ids ref_legalEntity ON ref_legalEntity.entity = 'legalEntity' AND ref_legalEntity.system = $1 AND ref_legalEntity.external_id = s."legalEntity"),
      del AS (
        DELETE FROM settlement_entries t WHERE (t.legal_entity_id IN (SELECT legal_entity_id FROM keys))
          AND NOT EXISTS (SELECT 1 FROM keys x WHERE x.legal_entity_id = t.legal_entity_id AND x.entry = t.entry)
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
      FROM settlement_entries t WHERE t.flow_id = $2
-- values: [[40,41,42],7]

-- finalize scope flow, 2 staged: remove
WITH del AS (
          DELETE FROM settlement_entries t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT ref_legalEntity.internal_id AS legal_entity_id, s."entry" AS entry FROM staging.run_42 s JOIN external_ids ref_legalEntity ON ref_legalEntity.entity = 'legalEntity' AND ref_legalEntity.system = $1 AND ref_legalEntity.external_id = s."legalEntity" UNION ALL SELECT ref_legalEntity.internal_id AS legal_entity_id, s."entry" AS entry FROM staging.run_43 s JOIN external_ids ref_legalEntity ON ref_legalEntity.entity = 'legalEntity' AND ref_legalEntity.system = $1 AND ref_legalEntity.external_id = s."legalEntity") x WHERE x.legal_entity_id = t.legal_entity_id AND x.entry = t.entry)
          RETURNING t.legal_entity_id, t.entry
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize scope flow, 0 staged: scope ids: none

-- finalize scope flow, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize scope flow, 0 staged: remove
WITH del AS (
          DELETE FROM settlement_entries t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.legal_entity_id, t.entry
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize scope keys, 2 staged: scope ids
SELECT DISTINCT legal_entity_id AS id FROM (SELECT ref_legalEntity.internal_id AS legal_entity_id, s."entry" AS entry FROM staging.run_42 s JOIN external_ids ref_legalEntity ON ref_legalEntity.entity = 'legalEntity' AND ref_legalEntity.system = $1 AND ref_legalEntity.external_id = s."legalEntity" UNION ALL SELECT ref_legalEntity.internal_id AS legal_entity_id, s."entry" AS entry FROM staging.run_43 s JOIN external_ids ref_legalEntity ON ref_legalEntity.entity = 'legalEntity' AND ref_legalEntity.system = $1 AND ref_legalEntity.external_id = s."legalEntity") x UNION 
        SELECT DISTINCT legal_entity_id AS id FROM settlement_entries WHERE run_id = ANY($2::bigint[])
-- values: ["erp",[40,41,42]]

-- finalize scope keys, 2 staged: counts
SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM settlement_entries t WHERE t.legal_entity_id = ANY($2::bigint[])
-- values: [[40,41,42],[11,12]]

-- finalize scope keys, 2 staged: remove
WITH del AS (
          DELETE FROM settlement_entries t WHERE t.legal_entity_id = ANY($2::bigint[]) AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT ref_legalEntity.internal_id AS legal_entity_id, s."entry" AS entry FROM staging.run_42 s JOIN external_ids ref_legalEntity ON ref_legalEntity.entity = 'legalEntity' AND ref_legalEntity.system = $1 AND ref_legalEntity.external_id = s."legalEntity" UNION ALL SELECT ref_legalEntity.internal_id AS legal_entity_id, s."entry" AS entry FROM staging.run_43 s JOIN external_ids ref_legalEntity ON ref_legalEntity.entity = 'legalEntity' AND ref_legalEntity.system = $1 AND ref_legalEntity.external_id = s."legalEntity") x WHERE x.legal_entity_id = t.legal_entity_id AND x.entry = t.entry)
          RETURNING t.legal_entity_id, t.entry
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[11,12],[40,41,42]]

-- finalize scope keys, 0 staged: scope ids
SELECT DISTINCT legal_entity_id AS id FROM settlement_entries WHERE run_id = ANY($2::bigint[])
-- values: ["erp",[40,41,42]]

-- finalize scope keys, 0 staged: counts: as finalize scope keys, 2 staged: counts

-- finalize scope keys, 0 staged: remove
WITH del AS (
          DELETE FROM settlement_entries t WHERE t.legal_entity_id = ANY($2::bigint[]) AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.legal_entity_id, t.entry
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[11,12],[40,41,42]]

-- finalize history off, 2 staged: scope ids: none

-- finalize history off, 2 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 2 staged: remove: as finalize scope flow, 2 staged: remove

-- finalize history off, 0 staged: scope ids: none

-- finalize history off, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 0 staged: remove: as finalize scope flow, 0 staged: remove
