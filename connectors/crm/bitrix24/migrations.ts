// Tables of the Bitrix24 pull side, applied with the crm module's migrations (kysely_migration_crm).
import { sql, type Kysely, type Migration } from 'kysely';

const oauthTokens: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    // One row per OAuth application and portal: the refresh token Bitrix24 rotated last (the only one
    // that still works) and the access token while it lives. See token-store.ts.
    await sql`
    CREATE TABLE IF NOT EXISTS crm_bitrix24_oauth (
      app_key       text PRIMARY KEY,
      client_id     text NOT NULL,
      refresh_token text NOT NULL,
      access_token  text,
      expires_at    timestamptz,
      rest_url      text,
      updated_at    timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  },
  async down(db: Kysely<any>): Promise<void> {
    await sql`DROP TABLE IF EXISTS crm_bitrix24_oauth`.execute(db);
  },
};

export const bitrix24PullMigrations: Readonly<Record<string, Migration>> = { '0001_bitrix24_oauth': oauthTokens };
