// Credentials an administrator sets and rotates without a restart (`magistral secrets set NAME`): the
// login or password a sender must present (1C checkauth, SAP IDoc endpoint …), stored as a scrypt hash
// under the name of the environment variable a flow's options name (`passwordEnv: ONEC_PASSWORD`). A stored
// one wins over the server's environment; the value itself is never stored or shown.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE stored_secrets (
      name    text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$'),
      hash    text NOT NULL,
      set_at  timestamptz NOT NULL DEFAULT now(),
      set_by  text
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS stored_secrets`.execute(db);
}
