-- reference order: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "order" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT o.id AS internal_id FROM orders o WHERE o.number = s."order" OR o.erp_number = s."order" ORDER BY (o.number = s."order") DESC, o.id DESC LIMIT 1)) AS any
-- values: []

-- reference order: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "order" AS code FROM staging.run_42 WHERE "order" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO orders (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["order","erp"]

-- reference order: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "order" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT o.id AS internal_id FROM orders o WHERE o.number = s."order" OR o.erp_number = s."order" ORDER BY (o.number = s."order") DESC, o.id DESC LIMIT 1)
      RETURNING s._line, s._file, s._path, s."order" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, _path, $3, 'reference', format('unknown %s %L (%s)', $4::text, code, $5::text) FROM bad
-- values: [42,["offers0_1.xml","offers0_2.xml"],"order","order","neither a portal order number nor an ERP number of one"]

-- duplicates
WITH ranked AS (
      SELECT ctid AS id, row_number() OVER w AS rn, first_value(_line) OVER w AS kept_line, first_value(_file) OVER w AS kept_file
      FROM staging.run_42 WHERE NOT _reject WINDOW w AS (PARTITION BY "order", "kind", "number" ORDER BY _file DESC, _line DESC)
    ), dropped AS (
      DELETE FROM staging.run_42 s USING ranked r WHERE s.ctid = r.id AND r.rn > 1
      RETURNING s._line, s._file, r.kept_line, r.kept_file, s."order" || ' / ' || s."kind" || ' / ' || s."number" AS key
    )
    INSERT INTO rejects (run_id, file_name, line, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, $3, 'duplicate',
           format('duplicate %s %s: superseded by %s line %s', $4::text, key, ($2::text[])[kept_file + 1], kept_line)
    FROM dropped
-- values: [42,["offers0_1.xml","offers0_2.xml"],"order,kind,number","order and kind and number"]

-- delta: upsert
WITH src AS (SELECT ref_order.internal_id AS order_id, s."kind" AS kind, s."number" AS number, s.date::date AS date, s.amount::numeric(20,2) AS amount, s."fileName" AS file_name, s.sha256 AS sha256, s.size::bigint AS size_bytes, s."contentType" AS content_type, 'flow'::text AS source FROM staging.run_42 s JOIN LATERAL (SELECT o.id AS internal_id FROM orders o WHERE o.number = s."order" OR o.erp_number = s."order" ORDER BY (o.number = s."order") DESC, o.id DESC LIMIT 1) ref_order ON true WHERE NOT s._reject),
    changed AS MATERIALIZED (
      SELECT x.*, (t.order_id IS NULL) AS is_new
      FROM src x LEFT JOIN order_documents t ON t.order_id = x.order_id AND t.kind = x.kind AND t.number = x.number
      WHERE t.order_id IS NULL OR t.flow_id IS DISTINCT FROM $1
        OR (t.source) IS DISTINCT FROM (x.source) OR (x.date IS NOT NULL AND t.date IS DISTINCT FROM x.date) OR (x.amount IS NOT NULL AND t.amount IS DISTINCT FROM x.amount) OR (x.file_name IS NOT NULL AND t.file_name IS DISTINCT FROM x.file_name) OR (x.sha256 IS NOT NULL AND t.sha256 IS DISTINCT FROM x.sha256) OR (x.size_bytes IS NOT NULL AND t.size_bytes IS DISTINCT FROM x.size_bytes) OR (x.content_type IS NOT NULL AND t.content_type IS DISTINCT FROM x.content_type)
    ), up AS (
      INSERT INTO order_documents AS t (order_id, kind, number, date, amount, file_name, sha256, size_bytes, content_type, source, flow_id, run_id)
      SELECT order_id, kind, number, date, amount, file_name, sha256, size_bytes, content_type, source, $1, $2 FROM changed
      ON CONFLICT (order_id, kind, number) DO UPDATE SET source = excluded.source, date = coalesce(excluded.date, t.date), amount = coalesce(excluded.amount, t.amount), file_name = coalesce(excluded.file_name, t.file_name), sha256 = coalesce(excluded.sha256, t.sha256), size_bytes = coalesce(excluded.size_bytes, t.size_bytes), content_type = coalesce(excluded.content_type, t.content_type), flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
    )
    SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd FROM changed
-- values: [7,42]

-- delta: remove: none

-- delta: count flow
SELECT count(*)::bigint AS n FROM order_documents WHERE flow_id = $1
-- values: [7]

-- snapshot scope flow: upsert: as delta: upsert

-- snapshot scope flow: remove
WITH keys AS MATERIALIZED (SELECT ref_order.internal_id AS order_id, s."kind" AS kind, s."number" AS number FROM staging.run_42 s JOIN LATERAL (SELECT o.id AS internal_id FROM orders o WHERE o.number = s."order" OR o.erp_number = s."order" ORDER BY (o.number = s."order") DESC, o.id DESC LIMIT 1) ref_order ON true),
      del AS (
        DELETE FROM order_documents t WHERE (t.flow_id = $1)
          AND NOT EXISTS (SELECT 1 FROM keys x WHERE x.order_id = t.order_id AND x.kind = t.kind AND x.number = t.number)
        RETURNING 1
      )
      SELECT count(*)::bigint AS n FROM del
-- values: [7]

-- snapshot scope flow: count flow: as delta: count flow

-- snapshot scope keys: upsert: as delta: upsert

-- snapshot scope keys: remove: as snapshot scope flow: remove

-- snapshot scope keys: count flow: as delta: count flow

-- snapshot of an open group: upsert: as delta: upsert

-- snapshot of an open group: remove: none

-- snapshot of an open group: count flow: as delta: count flow

-- finalize scope flow, 2 staged: scope ids: none

-- finalize scope flow, 2 staged: counts
SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM order_documents t WHERE t.flow_id = $2
-- values: [[40,41,42],7]

-- finalize scope flow, 2 staged: remove
WITH del AS (
          DELETE FROM order_documents t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT ref_order.internal_id AS order_id, s."kind" AS kind, s."number" AS number FROM staging.run_42 s JOIN LATERAL (SELECT o.id AS internal_id FROM orders o WHERE o.number = s."order" OR o.erp_number = s."order" ORDER BY (o.number = s."order") DESC, o.id DESC LIMIT 1) ref_order ON true UNION ALL SELECT ref_order.internal_id AS order_id, s."kind" AS kind, s."number" AS number FROM staging.run_43 s JOIN LATERAL (SELECT o.id AS internal_id FROM orders o WHERE o.number = s."order" OR o.erp_number = s."order" ORDER BY (o.number = s."order") DESC, o.id DESC LIMIT 1) ref_order ON true) x WHERE x.order_id = t.order_id AND x.kind = t.kind AND x.number = t.number)
          RETURNING t.order_id, t.kind, t.number
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize scope flow, 0 staged: scope ids: none

-- finalize scope flow, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize scope flow, 0 staged: remove
WITH del AS (
          DELETE FROM order_documents t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.order_id, t.kind, t.number
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize scope keys, 2 staged: scope ids: none

-- finalize scope keys, 2 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize scope keys, 2 staged: remove: as finalize scope flow, 2 staged: remove

-- finalize scope keys, 0 staged: scope ids: none

-- finalize scope keys, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize scope keys, 0 staged: remove: as finalize scope flow, 0 staged: remove

-- finalize history off, 2 staged: scope ids: none

-- finalize history off, 2 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 2 staged: remove: as finalize scope flow, 2 staged: remove

-- finalize history off, 0 staged: scope ids: none

-- finalize history off, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 0 staged: remove: as finalize scope flow, 0 staged: remove
