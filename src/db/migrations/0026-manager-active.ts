// Whether a manager still works here, as the CRM or the managers file says (Bitrix24's user ACTIVE, a
// CSV `active` column). A manager who left keeps the link to the clients (history, "placed by your
// manager" on old orders), but the workplace's sessions and any "work as client" stop at the next request,
// signing in and invitations are refused.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE managers ADD COLUMN IF NOT EXISTS active boolean NOT NULL DEFAULT true`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE managers DROP COLUMN IF EXISTS active`.execute(db);
}
