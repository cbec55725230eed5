-- reference warehouse: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "warehouse" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s."warehouse")) AS any
-- values: ["warehouse","erp"]

-- reference warehouse: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "warehouse" AS code FROM staging.run_42 WHERE "warehouse" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO warehouses (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["warehouse","erp"]

-- reference warehouse: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "warehouse" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s."warehouse")
      RETURNING s._line, s._file, s._path, s."warehouse" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad
-- values: [42,"warehouse","erp",["offers0_1.xml","offers0_2.xml"],"warehouse","warehouse"]

-- reference product: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "product" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s."product")) AS any
-- values: ["product","erp"]

-- reference product: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "product" AS code FROM staging.run_42 WHERE "product" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO products (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["product","erp"]

-- reference product: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "product" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s."product")
      RETURNING s._line, s._file, s._path, s."product" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad
-- values: [42,"product","erp",["offers0_1.xml","offers0_2.xml"],"product","product"]

-- duplicates
WITH ranked AS (
      SELECT ctid AS id, row_number() OVER w AS rn, first_value(_line) OVER w AS kept_line, first_value(_file) OVER w AS kept_file
      FROM staging.run_42 WHERE NOT _reject WINDOW w AS (PARTITION BY "warehouse", "product" ORDER BY _file DESC, _line DESC)
    ), dropped AS (
      DELETE FROM staging.run_42 s USING ranked r WHERE s.ctid = r.id AND r.rn > 1
      RETURNING s._line, s._file, r.kept_line, r.kept_file, s."warehouse" || ' / ' || s."product" AS key
    )
    INSERT INTO rejects (run_id, file_name, line, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, $3, 'duplicate',
           format('duplicate %s %s: superseded by %s line %s', $4::text, key, ($2::text[])[kept_file + 1], kept_line)
    FROM dropped
-- values: [42,["offers0_1.xml","offers0_2.xml"],"warehouse,product","warehouse and product"]

-- delta: partition ids
SELECT DISTINCT e.internal_id::int AS id FROM (SELECT DISTINCT "warehouse" AS code FROM staging.run_42 WHERE NOT _reject) d
    JOIN external_ids e ON e.entity = $1 AND e.system = $2 AND e.external_id = d.code
-- values: ["warehouse","erp"]

-- delta: partitions live
SELECT EXISTS (SELECT 1 FROM stock WHERE warehouse_id = ANY($1::int[])) AS e
-- values: [[3,5]]

-- delta: insert all
INSERT INTO stock (warehouse_id, product_id, quantity, flow_id, run_id)
      SELECT warehouse_id, product_id, quantity, $2, $3 FROM (
    SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id,
           s.quantity::numeric(20,6) AS quantity, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" WHERE NOT s._reject) x
-- values: ["erp",7,42]

-- delta: upsert
WITH src AS (
    SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id,
           s.quantity::numeric(20,6) AS quantity, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" WHERE NOT s._reject),
      changed AS MATERIALIZED (
        SELECT x.*, t.quantity AS old_quantity, (t.product_id IS NULL) AS is_new, t.flow_id AS old_flow_id
        FROM src x LEFT JOIN stock t ON t.warehouse_id = x.warehouse_id AND t.product_id = x.product_id
        WHERE t.product_id IS NULL
           OR (t.quantity) IS DISTINCT FROM (x.quantity)
           OR t.flow_id <> $2
      ), up AS (
        INSERT INTO stock AS t (warehouse_id, product_id, quantity, flow_id, run_id)
        SELECT warehouse_id, product_id, quantity, $2, $3 FROM changed
        ON CONFLICT (warehouse_id, product_id) DO UPDATE SET quantity = excluded.quantity,
          flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
      ), hist AS (
        -- A new key is a history row too (op I), so lineage names the file and line of its first value.
        INSERT INTO stock_history (run_id, warehouse_id, product_id, op, old_quantity, new_quantity, inbox_id, line, path)
        SELECT $3, warehouse_id, product_id, CASE WHEN is_new THEN 'I' ELSE 'U' END, old_quantity, quantity, ($4::bigint[])[_file + 1], _line, _path
        FROM changed WHERE is_new OR old_quantity IS DISTINCT FROM quantity
      )
      SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd,
        count(*) FILTER (WHERE NOT is_new AND old_flow_id <> $2)::bigint AS took,
        array_agg(DISTINCT old_flow_id) FILTER (WHERE NOT is_new AND old_flow_id <> $2) AS took_from
      FROM changed
-- values: ["erp",7,42,[11,12]]

-- delta: count scope
SELECT count(*)::bigint AS n FROM stock t WHERE t.flow_id = $1
-- values: [7]

-- delta: remove: none

-- snapshot scope flow: partition ids: as delta: partition ids

-- snapshot scope flow: partitions live: as delta: partitions live

-- snapshot scope flow: insert all: as delta: insert all

-- snapshot scope flow: upsert: as delta: upsert

-- snapshot scope flow: count scope: as delta: count scope

-- snapshot scope flow: remove
WITH del AS (
          DELETE FROM stock t WHERE t.flow_id = $2
            AND NOT EXISTS (SELECT 1 FROM (
    SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id,
           s.quantity::numeric(20,6) AS quantity, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.warehouse_id = t.warehouse_id AND x.product_id = t.product_id)
          RETURNING t.warehouse_id, t.product_id, t.quantity
        ), hist AS (
          INSERT INTO stock_history (run_id, warehouse_id, product_id, op, old_quantity) SELECT $3::bigint, warehouse_id, product_id, 'D', quantity FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,42]

-- snapshot scope keys: partition ids: as delta: partition ids

-- snapshot scope keys: partitions live: as delta: partitions live

-- snapshot scope keys: insert all: as delta: insert all

-- snapshot scope keys: upsert: as delta: upsert

-- snapshot scope keys: count scope
SELECT count(*)::bigint AS n FROM stock t WHERE t.warehouse_id = ANY($1::int[])
-- values: [[3,5]]

-- snapshot scope keys: remove
WITH del AS (
          DELETE FROM stock t WHERE t.warehouse_id = ANY($2::int[])
            AND NOT EXISTS (SELECT 1 FROM (
    SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id,
           s.quantity::numeric(20,6) AS quantity, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.warehouse_id = t.warehouse_id AND x.product_id = t.product_id)
          RETURNING t.warehouse_id, t.product_id, t.quantity
        ), hist AS (
          INSERT INTO stock_history (run_id, warehouse_id, product_id, op, old_quantity) SELECT $3::bigint, warehouse_id, product_id, 'D', quantity FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[3,5],42]

-- snapshot of an open group: partition ids: as delta: partition ids

-- snapshot of an open group: partitions live: as delta: partitions live

-- snapshot of an open group: insert all: as delta: insert all

-- snapshot of an open group: upsert: as delta: upsert

-- snapshot of an open group: count scope: as delta: count scope

-- snapshot of an open group: remove: none

-- snapshot scope flow, history off: partition ids: as delta: partition ids

-- snapshot scope flow, history off: partitions live: as delta: partitions live

-- snapshot scope flow, history off: insert all: as delta: insert all

-- snapshot scope flow, history off: upsert
WITH src AS (
    SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id,
           s.quantity::numeric(20,6) AS quantity, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" WHERE NOT s._reject),
      changed AS MATERIALIZED (
        SELECT x.*, t.quantity AS old_quantity, (t.product_id IS NULL) AS is_new, t.flow_id AS old_flow_id
        FROM src x LEFT JOIN stock t ON t.warehouse_id = x.warehouse_id AND t.product_id = x.product_id
        WHERE t.product_id IS NULL
           OR (t.quantity) IS DISTINCT FROM (x.quantity)
           OR t.flow_id <> $2
      ), up AS (
        INSERT INTO stock AS t (warehouse_id, product_id, quantity, flow_id, run_id)
        SELECT warehouse_id, product_id, quantity, $2, $3 FROM changed
        ON CONFLICT (warehouse_id, product_id) DO UPDATE SET quantity = excluded.quantity,
          flow_id = excluded.flow_id, run_id = excluded.run_id, updated_at = now()
      )
      SELECT count(*) FILTER (WHERE is_new)::bigint AS ins, count(*) FILTER (WHERE NOT is_new)::bigint AS upd,
        count(*) FILTER (WHERE NOT is_new AND old_flow_id <> $2)::bigint AS took,
        array_agg(DISTINCT old_flow_id) FILTER (WHERE NOT is_new AND old_flow_id <> $2) AS took_from
      FROM changed
-- values: ["erp",7,42]

-- snapshot scope flow, history off: count scope: as delta: count scope

-- snapshot scope flow, history off: remove
WITH del AS (
          DELETE FROM stock t WHERE t.flow_id = $2
            AND NOT EXISTS (SELECT 1 FROM (
    SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id,
           s.quantity::numeric(20,6) AS quantity, s._file, s._line, s._path
    FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.warehouse_id = t.warehouse_id AND x.product_id = t.product_id)
          RETURNING t.warehouse_id, t.product_id, t.quantity
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,42]

-- finalize scope flow, 2 staged: scope ids: none

-- finalize scope flow, 2 staged: counts
SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM stock t WHERE t.flow_id = $2
-- values: [[40,41,42],7]

-- finalize scope flow, 2 staged: remove
WITH del AS (
          DELETE FROM stock t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" UNION ALL SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id FROM staging.run_43 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.warehouse_id = t.warehouse_id AND x.product_id = t.product_id)
          RETURNING t.warehouse_id, t.product_id, t.quantity
        ), hist AS (
          INSERT INTO stock_history (run_id, warehouse_id, product_id, op, old_quantity) SELECT $4::bigint, warehouse_id, product_id, 'D', quantity FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42],42]

-- finalize scope flow, 0 staged: scope ids: none

-- finalize scope flow, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize scope flow, 0 staged: remove
WITH del AS (
          DELETE FROM stock t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.warehouse_id, t.product_id, t.quantity
        ), hist AS (
          INSERT INTO stock_history (run_id, warehouse_id, product_id, op, old_quantity) SELECT $4::bigint, warehouse_id, product_id, 'D', quantity FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42],42]

-- finalize scope keys, 2 staged: scope ids
SELECT DISTINCT warehouse_id AS id FROM (SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" UNION ALL SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id FROM staging.run_43 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x UNION 
        SELECT DISTINCT warehouse_id AS id FROM stock WHERE run_id = ANY($2::bigint[])
-- values: ["erp",[40,41,42]]

-- finalize scope keys, 2 staged: counts
SELECT count(*)::bigint AS n, count(*) FILTER (WHERE t.run_id <> ALL($1::bigint[]))::bigint AS untouched
      FROM stock t WHERE t.warehouse_id = ANY($2::bigint[])
-- values: [[40,41,42],[11,12]]

-- finalize scope keys, 2 staged: remove
WITH del AS (
          DELETE FROM stock t WHERE t.warehouse_id = ANY($2::bigint[]) AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" UNION ALL SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id FROM staging.run_43 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.warehouse_id = t.warehouse_id AND x.product_id = t.product_id)
          RETURNING t.warehouse_id, t.product_id, t.quantity
        ), hist AS (
          INSERT INTO stock_history (run_id, warehouse_id, product_id, op, old_quantity) SELECT $4::bigint, warehouse_id, product_id, 'D', quantity FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[11,12],[40,41,42],42]

-- finalize scope keys, 0 staged: scope ids
SELECT DISTINCT warehouse_id AS id FROM stock WHERE run_id = ANY($2::bigint[])
-- values: ["erp",[40,41,42]]

-- finalize scope keys, 0 staged: counts: as finalize scope keys, 2 staged: counts

-- finalize scope keys, 0 staged: remove
WITH del AS (
          DELETE FROM stock t WHERE t.warehouse_id = ANY($2::bigint[]) AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.warehouse_id, t.product_id, t.quantity
        ), hist AS (
          INSERT INTO stock_history (run_id, warehouse_id, product_id, op, old_quantity) SELECT $4::bigint, warehouse_id, product_id, 'D', quantity FROM del
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",[11,12],[40,41,42],42]

-- finalize history off, 2 staged: scope ids: none

-- finalize history off, 2 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 2 staged: remove
WITH del AS (
          DELETE FROM stock t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM (SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id FROM staging.run_42 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product" UNION ALL SELECT pk.internal_id::int AS warehouse_id, ik.internal_id AS product_id FROM staging.run_43 s JOIN external_ids pk ON pk.entity = 'warehouse' AND pk.system = $1 AND pk.external_id = s."warehouse" JOIN external_ids ik ON ik.entity = 'product' AND ik.system = $1 AND ik.external_id = s."product") x WHERE x.warehouse_id = t.warehouse_id AND x.product_id = t.product_id)
          RETURNING t.warehouse_id, t.product_id, t.quantity
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]

-- finalize history off, 0 staged: scope ids: none

-- finalize history off, 0 staged: counts: as finalize scope flow, 2 staged: counts

-- finalize history off, 0 staged: remove
WITH del AS (
          DELETE FROM stock t WHERE t.flow_id = $2 AND t.run_id <> ALL($3::bigint[])
            
          RETURNING t.warehouse_id, t.product_id, t.quantity
        )
        SELECT count(*)::bigint AS n FROM del
-- values: ["erp",7,[40,41,42]]
