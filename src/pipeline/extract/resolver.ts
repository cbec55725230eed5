// Codes resolved in the worker for a direct load: known codes preloaded, new ones numbered from the
// entity's sequence; and the ANALYZE that must happen inside the loading transaction.
import type pg from 'pg';
import { MAX_CODES } from '../locks.ts';
import type { RefSpec } from '../targets.ts';

const ID_BLOCK = 2048;

/** More codes than MAX_CODES met while loading: the run goes to staging instead. */
export class Overflow extends Error {}

/**
 * ANALYZE inside the loading transaction, so the codes it created and their statistics become visible
 * together. Taken after COMMIT, a merge starting in between (the sweeper may enqueue one at once)
 * planned its joins on external_ids as if it still held a hundred rows: nested loops over 100,000
 * staged stock rows took 13 s instead of 0.6 s. ANALYZE counts the transaction's own new rows. A
 * failure leaves the load intact (savepoint); the statistics then come with the next ANALYZE.
 */
export async function analyzeWithin(client: pg.PoolClient, table: string): Promise<void> {
  await client.query('SAVEPOINT analyze_within');
  try {
    await client.query(`ANALYZE ${table}`);
    await client.query('RELEASE SAVEPOINT analyze_within');
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT analyze_within');
  }
}

/** Codes → ids of one referenced entity: known ones preloaded, new ones numbered from its sequence. */
export class Resolver {
  readonly known = new Map<string, number>();
  readonly fresh: Array<[string, number]> = [];
  /**
   * Reserved ids, handed out from `head` on in ascending order. Taken from the end (pop), a block of
   * 2048 came out descending: the rows of every price type then reached the primary key in zig-zag
   * order, which splits its leaves in the middle. Measured on 2M rows into prices: index 107 MB
   * instead of 60 MB, and 12–40 % more COPY CPU in PostgreSQL (4.23 s vs 3.77 s, 5.92 s vs 4.18 s).
   */
  private ids: number[] = [];
  private head = 0;

  /** `creatable`: unknown codes get new ids (placeholders); else `id` answers undefined for them. */
  constructor(readonly ref: RefSpec, private readonly pool: pg.Pool, private readonly sequence: string, readonly creatable = true) {}

  async load(client: pg.PoolClient, system: string): Promise<boolean> {
    const n = Number((await client.query(`SELECT count(*)::bigint AS n FROM external_ids WHERE entity = $1 AND system = $2`, [this.ref.entity, system])).rows[0].n);
    if (n > MAX_CODES) return false;
    const r = await client.query({ text: `SELECT external_id, internal_id FROM external_ids WHERE entity = $1 AND system = $2`, values: [this.ref.entity, system], rowMode: 'array' });
    for (const [code, id] of r.rows as Array<[string, number]>) this.known.set(code, Number(id));
    return true;
  }

  /** Makes sure `n` new codes can be numbered without waiting (sequence values are never rolled back: gaps are harmless). */
  async reserve(n: number, q: Pick<pg.Pool, 'query'> = this.pool): Promise<void> {
    if (!this.creatable || this.ids.length - this.head >= n) return;
    const r = await q.query({ text: `SELECT nextval($1::regclass) FROM generate_series(1, $2) ORDER BY 1`, values: [this.sequence, Math.max(n, ID_BLOCK)], rowMode: 'array' });
    // What is left of the last block (smaller ids) goes first; the sequence only grows, so order holds.
    const ids = this.ids.slice(this.head);
    for (const [id] of r.rows as Array<[string]>) ids.push(Number(id));
    this.ids = ids;
    this.head = 0;
  }

  /**
   * Reserves `block` more ids when fewer than `low` are left (a reader that numbers codes between batches),
   * through `q` (the load's own connection before its COPY opens: a pool connection may be long in coming
   * while merges wait for the load's locks).
   */
  async topUp(low: number, block: number, q?: Pick<pg.Pool, 'query'>): Promise<void> {
    if (this.creatable && this.ids.length - this.head < low) await this.reserve(block, q);
  }

  private lastCode = '';
  private lastId = 0;

  id(code: string): number | undefined {
    // Exports come grouped (all prices of one price type, all stock of one warehouse): the same
    // code as the row before skips the map.
    if (code === this.lastCode) return this.lastId;
    let id = this.known.get(code);
    if (id === undefined) {
      if (!this.creatable) return undefined;
      // reserve() made room for every record of the batch (a companion's too, sink.ts DirectLeader): a
      // code left without an id would be rejected as unknown without a word.
      if (this.head >= this.ids.length) throw new Error(`no id reserved for a new ${this.ref.label} code`);
      id = this.ids[this.head++]!;
      // Parsers hand out slices of their decoded chunks: a kept slice would keep its whole chunk
      // alive. Copy the code into a string of its own before the map holds on to it.
      const own = Buffer.from(code, 'utf8').toString('utf8');
      this.known.set(own, id);
      this.fresh.push([own, id]);
    }
    this.lastCode = code;
    this.lastId = id;
    return id;
  }

  /**
   * The id of `code` when it can be answered without waiting: known, or numbered from ids reserved
   * already. Undefined: a code it may not create, or no id left — the caller goes the way that reserves.
   */
  idNow(code: string): number | undefined {
    if (code !== this.lastCode && !this.known.has(code) && (!this.creatable || this.head >= this.ids.length)) return undefined;
    return this.id(code);
  }

  get overflow(): boolean {
    return this.known.size > MAX_CODES;
  }
}
