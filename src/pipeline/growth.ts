// Payloads still arriving (inbox_growth, migration 0038). A connector receiving a file in pieces may make
// its runs at the first piece (ReceiveRequest.growing): the extract then follows the file's committed
// bytes as they come, so parsing and staging overlap the upload instead of following it. The store stays
// untouched until the sender says the file is whole (seal): a run of a file not sealed never merges
// (claim.ts), and a reader that is done before the end of the file waits for the seal too. Given up
// (abandon), the runs fail and leave nothing: no staging, no rejects.
//
// Only committed bytes are read: a piece that breaks off is cut from the file again by the connector, and
// a reader that had seen its bytes would have parsed what the file never held.
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { MagistralError } from '../errors/index.ts';
import { ChunkRing, readInto } from './inbox.ts';
import type { PipelineDeps } from './deps.ts';
import { enqueueExtract, enqueueMerge } from './jobs.ts';
import { failRun, runSettled } from './lifecycle/index.ts';

/** The sender gave the file up before it was whole: its runs fail, nothing of them is kept. */
export class GrowthAbandoned extends MagistralError {
  constructor(message: string) {
    super('MAG_ERR_EXCHANGE_REFUSED', message);
    this.name = 'GrowthAbandoned';
  }
}

type Pool = PipelineDeps['pool'];

/** How often a reader that caught up asks whether more bytes are committed (an upload piece is MBs). */
const POLL_MS = 25;
const READ_BYTES = 1 << 18;

interface GrowthRow { committed_bytes: number; state: 'growing' | 'sealed' | 'abandoned'; error: string | null }

async function growthOf(pool: Pick<Pool, 'query'>, key: string): Promise<GrowthRow> {
  const r = await pool.query<GrowthRow>('SELECT committed_bytes, state, error FROM inbox_growth WHERE key = $1', [key]);
  const row = r.rows[0];
  if (!row) throw new GrowthAbandoned(`the arriving file of receipt ${key} is no longer known`);
  return { ...row, committed_bytes: Number(row.committed_bytes) };
}

/**
 * The growing file as a stream of its committed bytes: reads what is committed, then waits (polling the
 * growth row) for more until the file is sealed; errors with GrowthAbandoned when it is given up.
 * `reuse`: read into a ChunkRing (for a parser that keeps nothing of a chunk, Connector.copiesInput).
 */
export function followPayload(pool: Pick<Pool, 'query'>, key: string, filePath: string, stopping?: AbortSignal, reuse = false): Readable {
  async function* follow(): AsyncGenerator<Buffer> {
    const fh = await open(filePath, 'r');
    const ring = reuse ? new ChunkRing(READ_BYTES) : undefined;
    try {
      let pos = 0;
      for (;;) {
        const g = await growthOf(pool, key);
        if (g.state === 'abandoned') throw new GrowthAbandoned(g.error ?? `the upload of ${filePath} was given up`);
        while (pos < g.committed_bytes) {
          const want = Math.min(READ_BYTES, g.committed_bytes - pos);
          const buf = ring ? ring.next().subarray(0, want) : Buffer.allocUnsafe(want);
          const bytesRead = ring ? readInto(fh, buf, want, pos) : (await fh.read(buf, 0, want, pos)).bytesRead;
          if (bytesRead === 0) throw new GrowthAbandoned(`${filePath}: ${g.committed_bytes} bytes were committed but only ${pos} are on disk`);
          pos += bytesRead;
          yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
        }
        if (g.state === 'sealed') return;
        // The workers close: stop following (the run stays open; the sweeper reads it again after restart).
        // Waiting on kept their close (and a test's afterAll) until the upload's session expired.
        if (stopping?.aborted) throw new Error(`stopped following ${filePath}: the workers are closing`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } finally {
      await fh.close();
    }
  }
  return Readable.from(follow(), { objectMode: false, highWaterMark: 1 });
}

/**
 * Waits until the file is whole (a reader that stopped before its end, with a load that commits when it
 * ends: a direct load may commit only after the seal). Throws GrowthAbandoned when it is given up.
 */
export async function awaitSeal(pool: Pick<Pool, 'query'>, key: string, stopping?: AbortSignal): Promise<void> {
  for (;;) {
    const g = await growthOf(pool, key);
    if (g.state === 'sealed') return;
    if (g.state === 'abandoned') throw new GrowthAbandoned(g.error ?? `the upload of receipt ${key} was given up`);
    if (stopping?.aborted) throw new Error(`stopped waiting for receipt ${key} to be whole: the workers are closing`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** More bytes of the file are final (never fewer: a smaller count is ignored). Answers whether the growth is open. */
export async function extendGrowth(pool: Pick<Pool, 'query'>, key: string, bytes: number): Promise<boolean> {
  const r = await pool.query(`UPDATE inbox_growth SET committed_bytes = greatest(committed_bytes, $2), updated_at = now() WHERE key = $1 AND state = 'growing'`, [key, bytes]);
  return (r.rowCount ?? 0) > 0;
}

/**
 * The file is whole: its size and digest go to its inbox rows, and its runs may merge now (their merge
 * jobs are woken). Answers 'none' when the key never grew, 'abandoned' when it was given up first.
 */
export async function sealGrowth(deps: PipelineDeps, key: string, file: { sha256: string; size: number }): Promise<'sealed' | 'none' | 'abandoned'> {
  const client = await deps.pool.connect();
  let runs: Array<{ id: number; state: string }> = [];
  try {
    await client.query('BEGIN');
    const g = await client.query<{ state: string }>('SELECT state FROM inbox_growth WHERE key = $1 FOR UPDATE', [key]);
    const state = g.rows[0]?.state;
    if (state === undefined) {
      await client.query('ROLLBACK');
      return 'none';
    }
    if (state === 'abandoned') {
      await client.query('ROLLBACK');
      return 'abandoned';
    }
    await client.query(`UPDATE inbox_growth SET state = 'sealed', committed_bytes = $2, updated_at = now() WHERE key = $1`, [key, file.size]);
    await client.query('UPDATE inbox SET sha256 = $2, size_bytes = $3 WHERE growth_key = $1', [key, file.sha256, file.size]);
    runs = (await client.query<{ id: string; state: string }>(`SELECT DISTINCT r.id, r.state FROM run_receipts k JOIN runs r ON r.id = k.run_id WHERE k.key = $1`, [key]))
      .rows.map((r) => ({ id: Number(r.id), state: r.state }));
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
  // Runs done reading before the end (price types, warehouses: the file's head) wait staged for this;
  // runs not read yet are woken to read (a run of a file given up and received again, say).
  for (const r of runs.filter((x) => x.state === 'staged' || x.state === 'received')) {
    const flow = await deps.db.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id').select('flows.definition').where('runs.id', '=', r.id).executeTakeFirst();
    if (flow) await (r.state === 'staged' ? enqueueMerge : enqueueExtract)(deps, r.id, flow.definition).catch(() => {});
  }
  return 'sealed';
}

/**
 * The sender gave the files up (upload stopped, session over, a new export began): their growth ends,
 * and runs nobody is reading now fail at once (staging and rejects removed). A run being read fails in
 * its reader, which sees the growth abandoned at its next look. Answers the keys that were still growing.
 */
export async function abandonGrowth(deps: PipelineDeps, keys: readonly string[], reason: string): Promise<string[]> {
  if (!keys.length) return [];
  const r = await deps.pool.query<{ key: string }>(`UPDATE inbox_growth SET state = 'abandoned', error = $2, updated_at = now()
    WHERE key = ANY($1::text[]) AND state = 'growing' RETURNING key`, [keys, reason]);
  const gone = r.rows.map((x) => x.key);
  if (!gone.length) return gone;
  // Given up, they are no part of their export any more (a file given up is received anew at its
  // import): a failed member would tell the snapshot group's finalize the export was incomplete.
  await deps.pool.query(`UPDATE runs SET snapshot_group = NULL WHERE id IN (SELECT run_id FROM run_receipts WHERE key = ANY($1::text[]))`, [gone]);
  // Received (not claimed: the claim's UPDATE takes only a received run) or staged, waiting for the seal.
  const idle = await deps.pool.query<{ id: string }>(`SELECT DISTINCT r.id FROM run_receipts k JOIN runs r ON r.id = k.run_id
    WHERE k.key = ANY($1::text[]) AND r.state IN ('received', 'staged')`, [gone]);
  for (const row of idle.rows) {
    const id = Number(row.id);
    // A claim in the same instant makes the run's reader see the growth abandoned too: it ends failed either way.
    await failRun(deps, id, 'MAG_ERR_EXCHANGE_REFUSED', reason);
    await runSettled(deps, id).catch(() => {});
  }
  deps.log.info({ keys: gone, reason }, 'arriving files given up: their runs fail');
  return gone;
}
