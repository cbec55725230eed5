// The operations console (/console): its own users with a role (viewer reads, operator acts on flows and
// runs, admin also manages users), their sessions in a cookie of their own, and sign-in attempts for the
// throttle. What console users change is written to the audit log (actor_kind 'console', 0023).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE console_users (
      id            serial PRIMARY KEY,
      name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
      role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
      password_hash text NOT NULL,
      disabled      boolean NOT NULL DEFAULT false,
      created_at    timestamptz NOT NULL DEFAULT now(),
      updated_at    timestamptz NOT NULL DEFAULT now(),
      last_login_at timestamptz
    );
    CREATE UNIQUE INDEX console_users_name ON console_users(lower(name));
    CREATE TABLE console_sessions (
      id_hash    char(64) PRIMARY KEY,
      user_id    integer NOT NULL REFERENCES console_users(id) ON DELETE CASCADE,
      csrf       text NOT NULL,
      ip         text,
      user_agent text,
      created_at timestamptz NOT NULL DEFAULT now(),
      seen_at    timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL
    );
    CREATE INDEX console_sessions_user ON console_sessions(user_id);
    CREATE INDEX console_sessions_expires ON console_sessions(expires_at);
    -- The column is the login as typed (a user name here; the cabinet's and managers' tables keep an e-mail).
    CREATE TABLE console_login_attempts (
      id    bigserial PRIMARY KEY,
      email text NOT NULL,
      ip    text NOT NULL,
      ok    boolean NOT NULL,
      at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX console_login_attempts_email ON console_login_attempts(lower(email), at);
    CREATE INDEX console_login_attempts_ip ON console_login_attempts(ip, at);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS console_login_attempts, console_sessions, console_users CASCADE`.execute(db);
}
