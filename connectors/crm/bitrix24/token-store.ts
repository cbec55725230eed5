// Where an OAuth application's tokens live between pulls. Bitrix24 rotates the refresh token on every
// refresh (the old one stops working), so a refresh is one step under a row lock: read the stored
// token, refresh with it, write the new pair, commit, and only then use the access token. A pull and
// an outbound send of the same application share the row (keyed by portal and client id), so neither
// spends a refresh token the other has already rotated.
import type pg from 'pg';

export interface StoredToken {
  refreshToken: string;
  accessToken?: string;
  /** Epoch milliseconds after which the access token is not used. */
  expiresAt?: number;
  /** The portal's REST endpoint as the OAuth server last answered it (`client_endpoint`). */
  restUrl?: string;
}

export interface TokenStore {
  load(): Promise<StoredToken | undefined>;
  /**
   * Under a lock: `refresh` gets the stored token and answers the new one (stored before rotate
   * resolves) or undefined when the stored one is still good (someone else refreshed); answers the token to use.
   */
  rotate(refresh: (current: StoredToken | undefined) => Promise<StoredToken | undefined>): Promise<StoredToken>;
}

/** A store in memory (tools, tests of the client alone). */
export function memoryTokenStore(initial?: StoredToken): TokenStore & { current(): StoredToken | undefined } {
  let t = initial;
  let lock: Promise<unknown> = Promise.resolve();
  return {
    current: () => t,
    load: () => Promise.resolve(t),
    rotate(refresh) {
      const run = lock.then(async () => {
        const next = await refresh(t);
        if (next) t = next;
        if (!t) throw new Error('no token');
        return t;
      });
      lock = run.catch(() => {});
      return run;
    },
  };
}

interface Row { refresh_token: string; access_token: string | null; expires_at: Date | null; rest_url: string | null }

function fromRow(r: Row | undefined): StoredToken | undefined {
  if (!r) return undefined;
  return {
    refreshToken: r.refresh_token,
    accessToken: r.access_token ?? undefined,
    expiresAt: r.expires_at ? r.expires_at.getTime() : undefined,
    restUrl: r.rest_url ?? undefined,
  };
}

/** The store in the module's table `crm_bitrix24_oauth`, one row per application key. */
export function pgTokenStore(sql: Pick<pg.Pool, 'query' | 'connect'>, key: string, clientId: string): TokenStore {
  const select = 'SELECT refresh_token, access_token, expires_at, rest_url FROM crm_bitrix24_oauth WHERE app_key = $1';
  return {
    async load() {
      const r = await sql.query<Row>(select, [key]);
      return fromRow(r.rows[0]);
    },
    async rotate(refresh) {
      const c = await sql.connect();
      try {
        await c.query('BEGIN');
        // The row may not exist yet (first refresh): make it, so the lock below has something to hold.
        await c.query(`INSERT INTO crm_bitrix24_oauth (app_key, client_id, refresh_token) VALUES ($1, $2, '') ON CONFLICT (app_key) DO NOTHING`, [key, clientId]);
        const r = await c.query<Row>(`${select} FOR UPDATE`, [key]);
        const row = r.rows[0];
        const current = row && row.refresh_token ? fromRow(row) : undefined;
        const next = await refresh(current);
        if (next) {
          await c.query(`UPDATE crm_bitrix24_oauth SET refresh_token = $2, access_token = $3, expires_at = $4, rest_url = $5, updated_at = now() WHERE app_key = $1`,
            [key, next.refreshToken, next.accessToken ?? null, next.expiresAt ? new Date(next.expiresAt) : null, next.restUrl ?? null]);
        }
        await c.query('COMMIT');
        const out = next ?? current;
        if (!out) throw new Error('no token');
        return out;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        c.release();
      }
    },
  };
}
