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
      SELECT s.code, s.name AS c0, s.email AS c1, s.phone AS c2, s."photoUrl" AS c3, coalesce(s.active <> 'false', true) AS c4 FROM staging.run_42 s
      WHERE NOT EXISTS (SELECT 1 FROM external_ids e WHERE e.entity = $2 AND e.system = $1 AND e.external_id = s.code)
    ), created AS (
      INSERT INTO managers (code, name, email, phone, photo_url, active) SELECT code, c0, c1, c2, c3, c4 FROM fresh RETURNING id, code
    )
    INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT $2, $1, code, id FROM created
-- values: ["erp","manager"]

-- update known
UPDATE managers t SET name = x.c0, email = x.c1, phone = x.c2, photo_url = x.c3, active = x.c4, placeholder = false, updated_at = now()
    FROM (
      SELECT e.internal_id AS id, s.name AS c0, s.email AS c1, s.phone AS c2, s."photoUrl" AS c3, coalesce(s.active <> 'false', true) AS c4
      FROM staging.run_42 s JOIN external_ids e ON e.entity = $2 AND e.system = $1 AND e.external_id = s.code
    ) x
    WHERE t.id = x.id AND (t.placeholder OR (t.name, t.email, t.phone, t.photo_url, t.active) IS DISTINCT FROM (x.c0, x.c1, x.c2, x.c3, x.c4))
-- values: ["erp","manager"]
