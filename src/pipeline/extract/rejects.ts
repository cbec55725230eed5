// Rejected rows of a run (reason and position: file, line, element path), buffered and written in
// batches on a connection of their own, so the run's COPY never stalls behind them.
import type pg from 'pg';

export interface RejectRow {
  file: string;
  line: number | null;
  path: string | null;
  field: string;
  rule: string;
  reason: string;
  record: string;
}

/** Buffers rejects and writes them in batches on a separate connection, so the COPY never stalls. */
export class RejectWriter {
  private buf: RejectRow[] = [];
  private pending: Promise<unknown> = Promise.resolve();
  count = 0;
  constructor(private readonly pool: pg.Pool, private readonly runId: number) {}

  add(r: RejectRow): void {
    this.buf.push(r);
    this.count++;
    if (this.buf.length >= 1000) this.flush();
  }

  flush(): void {
    if (!this.buf.length) return;
    const rows = this.buf;
    this.buf = [];
    this.pending = this.pending.then(() =>
      this.pool.query(
        `INSERT INTO rejects (run_id, file_name, line, path, field, rule, reason, record)
         SELECT $1, * FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[])`,
        [
          this.runId,
          rows.map((r) => r.file), rows.map((r) => r.line), rows.map((r) => r.path), rows.map((r) => r.field),
          rows.map((r) => r.rule), rows.map((r) => r.reason), rows.map((r) => r.record),
        ],
      ),
    );
  }

  async done(): Promise<void> {
    this.flush();
    await this.pending;
  }

  /** Forgets what was counted and removes what was written: the run starts again from scratch. */
  async clear(): Promise<void> {
    await this.done().catch(() => {});
    this.buf = [];
    this.count = 0;
    await this.pool.query(`DELETE FROM rejects WHERE run_id = $1`, [this.runId]);
  }
}
