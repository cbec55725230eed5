-- reference client: any unknown
SELECT EXISTS (SELECT 1 FROM staging.run_42 s WHERE "client" IS NOT NULL AND NOT _reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = s."client")) AS any
-- values: ["client","erp"]

-- reference client: create placeholders
WITH missing AS (
        SELECT d.code FROM (SELECT DISTINCT "client" AS code FROM staging.run_42 WHERE "client" IS NOT NULL AND NOT _reject) d
        WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $1 AND e.system = $2 AND e.external_id = d.code)
      ), created AS (
        -- ids in code order: exports sorted by code then fill the primary key in order, not at random
        INSERT INTO clients (code, name, placeholder) SELECT code, code, true FROM missing ORDER BY code RETURNING id, code
      )
      INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $1, $2, code, id FROM created
-- values: ["client","erp"]

-- reference client: reject unknown
WITH bad AS (
      DELETE FROM staging.run_42 s WHERE "client" IS NOT NULL AND NOT s._reject AND NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $3 AND e.external_id = s."client")
      RETURNING s._line, s._file, s._path, s."client" AS code
    )
    INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason)
    SELECT $1, ($4::text[])[_file + 1], _line, _path, $5, 'reference', format('unknown %s %L (system %s)', $6::text, code, $3::text) FROM bad
-- values: [42,"client","erp",["offers0_1.xml","offers0_2.xml"],"client","client"]

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
      SELECT s.code, s.name AS c0, s.email AS c1, s.phone AS c2, s.position AS c3, coalesce(s.deleted = 'true', false) AS c4, (SELECT e0.internal_id FROM external_ids e0 WHERE e0.entity = 'client' AND e0.system = $1 AND e0.external_id = s."client") AS c5 FROM staging.run_42 s
      WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $1 AND e.external_id = s.code)
    ), created AS (
      INSERT INTO contacts (code, name, email, phone, position, deleted, client_id) SELECT code, c0, c1, c2, c3, c4, c5 FROM fresh RETURNING id, code
    )
    INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $2, $1, code, id FROM created
-- values: ["erp","contact"]

-- update known
UPDATE contacts t SET name = x.c0, email = x.c1, phone = x.c2, position = x.c3, deleted = x.c4, client_id = x.c5, placeholder = false, updated_at = now()
    FROM (
      SELECT e.internal_id AS id, s.name AS c0, s.email AS c1, s.phone AS c2, s.position AS c3, coalesce(s.deleted = 'true', false) AS c4, (SELECT e0.internal_id FROM external_ids e0 WHERE e0.entity = 'client' AND e0.system = $1 AND e0.external_id = s."client") AS c5
      FROM staging.run_42 s JOIN external_ids e ON e.entity = $2 AND e.system = $1 AND e.external_id = s.code
    ) x
    WHERE t.id = x.id AND (t.placeholder OR (t.name, t.email, t.phone, t.position, t.deleted, t.client_id) IS DISTINCT FROM (x.c0, x.c1, x.c2, x.c3, x.c4, x.c5))
-- values: ["erp","contact"]
