// External ids are kept for every entity the bus learns of (properties, counterparties, orders…), not
// only the five of the first migration: the entity name is checked by the code that writes it.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE external_ids DROP CONSTRAINT IF EXISTS external_ids_entity_check`.execute(db);
  await sql`ALTER TABLE external_ids ADD CONSTRAINT external_ids_entity_check CHECK (entity ~ '^[a-z][A-Za-z]{1,31}$')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE external_ids DROP CONSTRAINT IF EXISTS external_ids_entity_check`.execute(db);
  await sql`ALTER TABLE external_ids ADD CONSTRAINT external_ids_entity_check
    CHECK (entity IN ('product', 'group', 'priceType', 'warehouse', 'city', 'unit'))`.execute(db);
}
