-- reference manager: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "manager" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s."manager")) AS any
-- values: ["manager","erp"]

-- reference manager: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "manager" AS code FROM staging.run_42 WHERE "manager" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO managers (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["manager","erp"]

-- reference manager: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "manager" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s."manager")
      RETURNING s._line, s._file, s._path, s."manager" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad
-- values: [42,"manager","erp",["offers0_1.xml","offers0_2.xml"],"manager","manager"]

-- reference city: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "city" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s."city")) AS any
-- values: ["city","erp"]

-- reference city: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "city" AS code FROM staging.run_42 WHERE "city" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO cities (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["city","erp"]

-- reference city: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "city" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s."city")
      RETURNING s._line, s._file, s._path, s."city" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad
-- values: [42,"city","erp",["offers0_1.xml","offers0_2.xml"],"city","city"]

-- duplicates
WITH ranked AS (
      SELECT ctid AS id, row_number() OVER w AS rn, first_value(_line) OVER w AS kept_line, first_value(_file) OVER w AS kept_file
      FROM staging.run_42 WHERE NOT _reject WINDOW w AS (PARTITION BY "code" ORDER BY _file DESC, _line DESC)
    ), dropped AS (
      DELETE FROM staging.run_42 s USING ranked r WHERE s.ctid = r.id AND r.rn > 1
      RETURNING s._line, s._file, r.kept_line, r.kept_file, s."code" AS key
    )
    INSERT INTO rejects (run_id, file_name, line, field, rule, reason)
    SELECT $1, ($2::text[])[_file + 1], _line, $3, 'duplicate',
           format('duplicate %s %s: superseded by %s line %s', $4::text, key, ($2::text[])[kept_file + 1], kept_line)
    FROM dropped
-- values: [42,["offers0_1.xml","offers0_2.xml"],"code","code"]

-- drop rejected
DELETE FROM staging.run_42 WHERE _reject
-- values: []

-- units: none

-- staged
SELECT count(*)::bigint AS n FROM staging.run_42
-- values: []

-- insert new
WITH fresh AS (
      SELECT s.code, s.name AS c0, s.email AS c1, s.phone AS c2, coalesce(s.blocked = 'true', false) AS c3, (SELECT e0.internal_id FROM external_ids e0 WHERE e0.entity = 'manager' AND e0.system = $1 AND e0.external_id = s."manager") AS c4, (SELECT e1.internal_id FROM external_ids e1 WHERE e1.entity = 'city' AND e1.system = $1 AND e1.external_id = s."city") AS c5 FROM staging.run_42 s
      WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $1 AND e.external_id = s.code)
    ), created AS (
      INSERT INTO clients (code, name, email, phone, blocked, manager_id, city_id) SELECT code, c0, c1, c2, c3, c4, c5 FROM fresh RETURNING id, code
    )
    INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $2, $1, code, id FROM created
-- values: ["erp","client"]

-- update known
UPDATE clients t SET name = x.c0, email = x.c1, phone = x.c2, blocked = x.c3, manager_id = x.c4, city_id = x.c5, placeholder = false, updated_at = now()
    FROM (
      SELECT e.internal_id AS id, s.name AS c0, s.email AS c1, s.phone AS c2, coalesce(s.blocked = 'true', false) AS c3, (SELECT e0.internal_id FROM external_ids e0 WHERE e0.entity = 'manager' AND e0.system = $1 AND e0.external_id = s."manager") AS c4, (SELECT e1.internal_id FROM external_ids e1 WHERE e1.entity = 'city' AND e1.system = $1 AND e1.external_id = s."city") AS c5
      FROM staging.run_42 s JOIN external_ids e ON e.entity = $2 AND e.system = $1 AND e.external_id = s.code
    ) x
    WHERE t.id = x.id AND (t.placeholder OR (t.name, t.email, t.phone, t.blocked, t.manager_id, t.city_id) IS DISTINCT FROM (x.c0, x.c1, x.c2, x.c3, x.c4, x.c5))
-- values: ["erp","client"]
