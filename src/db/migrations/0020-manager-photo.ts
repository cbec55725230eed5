// A personal manager's photo URL (Bitrix24's user.get PERSONAL_PHOTO), shown to clients with the
// manager's name and contacts. A URL only: the photo itself stays with the CRM.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE managers ADD COLUMN IF NOT EXISTS photo_url text`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE managers DROP COLUMN IF EXISTS photo_url`.execute(db);
}
