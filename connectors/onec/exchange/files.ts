// Files of a session: `mode=file` POSTs streamed to disk and appended per session + name (1C splits a
// file larger than file_limit into several POSTs). A refused or broken chunk is cut off again, so the
// file holds exactly the chunks that succeeded. A chunk's bytes start on their way to the disk when 1C
// hears "success" (an fdatasync runs in the background while the next chunk arrives); the import makes
// the whole file durable, and checks it is all there, before any run refers to it (`makeDurable`).
// Waiting for each chunk's fsync would serialise disk and network: 33 fsyncs of 64 MiB took 5 of the
// 10 s an upload of 2.2 GB lasted.
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { MagistralError, type ConnectorPort } from '../../../src/port/index.ts';
import type { ExchangeSettings } from './options.ts';
import { checkFileName, NameRefused, printableName } from './names.ts';
import type { ExchangeSession } from './sessions.ts';

const WRITE_BYTES = 4 << 20;

/** A refusal 1C is told about as `failure\n<message>`; the message is written for its operator. */
export class ExchangeFailure extends MagistralError {
  constructor(message: string) {
    super('MAG_ERR_EXCHANGE_REFUSED', message);
    this.name = 'ExchangeFailure';
  }
}

export interface ReceivedFile {
  id: number;
  name: string;
  path: string;
  size: number;
  chunks: number;
}

/** Running sha256 of files being received by this process, so import need not read them again. */
export class RunningHashes {
  private readonly map = new Map<number, { hash: Hash; bytes: number; session: string }>();

  start(fileId: number, session: string, base: number): Hash | undefined {
    const e = this.map.get(fileId);
    if (base === 0) {
      const hash = createHash('sha256');
      this.map.set(fileId, { hash, bytes: 0, session });
      return hash;
    }
    if (e && e.bytes === base) return e.hash;
    this.map.delete(fileId);
    return undefined;
  }

  commit(fileId: number, bytes: number): void {
    const e = this.map.get(fileId);
    if (e) e.bytes = bytes;
  }

  forget(fileId: number): void {
    this.map.delete(fileId);
  }

  /** The digest when this process saw every byte of the file (`size` of them); forgets the entry. */
  take(fileId: number, size: number): string | undefined {
    const e = this.map.get(fileId);
    this.map.delete(fileId);
    return e && e.bytes === size ? e.hash.digest('hex') : undefined;
  }

  forgetSession(session: string): void {
    for (const [k, v] of this.map) if (v.session === session) this.map.delete(k);
  }
}

/**
 * Before a received file is imported: it must hold every byte the session recorded (a crash between
 * "success" and writeback could have lost the tail), and they and its directory entry must be on disk,
 * because the runs made next refer to the file and may be replayed after a restart.
 */
export async function makeDurable(filePath: string, name: string, size: number): Promise<void> {
  let fh;
  try {
    fh = await open(filePath, 'r');
  } catch {
    throw new ExchangeFailure(`${name}: the received file is gone from the server; send it again`);
  }
  try {
    const st = await fh.stat();
    if (st.size !== size) throw new ExchangeFailure(`${name}: ${size} bytes were received but ${st.size} are on disk; send the whole file again`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  const dh = await open(path.dirname(filePath), 'r');
  try {
    await dh.sync().catch(() => {});
  } finally {
    await dh.close();
  }
}

/** The absolute path of a checked relative name inside the session's directory (never outside it). */
export function sessionPath(session: ExchangeSession, name: string): string {
  const root = path.resolve(session.dir);
  const full = path.resolve(root, name);
  if (!full.startsWith(root + path.sep)) throw new ExchangeFailure(`${printableName(name)}: the name leaves the session's directory`);
  return full;
}

export function checkedName(raw: string): string {
  try {
    return checkFileName(raw);
  } catch (e) {
    if (e instanceof NameRefused) throw new ExchangeFailure(`${printableName(raw)}: ${e.message}`);
    throw e;
  }
}

/**
 * Appends one POST body to the session's file `rawName`. Refuses a body over file_limit (declared or
 * counted while streaming, never buffered) and a file over maxFileBytes. A file sent again after it
 * was imported starts over (a new generation of it).
 */
export async function receiveChunk(
  port: ConnectorPort, hashes: RunningHashes, session: ExchangeSession, s: ExchangeSettings, rawName: string, body: Readable, declaredLength: number | undefined,
): Promise<ReceivedFile> {
  const name = checkedName(rawName);
  const full = sessionPath(session, name);
  if (declaredLength !== undefined && declaredLength > s.fileLimit) {
    throw new ExchangeFailure(`${name}: a POST of ${declaredLength} bytes is larger than file_limit=${s.fileLimit}`);
  }
  const client = await port.sql.connect();
  try {
    await client.query('BEGIN');
    // The file's row is made in this transaction: a first POST refused or broken leaves no row behind.
    await client.query(`INSERT INTO onec_files (session_id, name, path) VALUES ($1, $2, $3) ON CONFLICT (session_id, name) DO NOTHING`, [session.id, name, full]);
    // The row lock serialises chunks of one file (1C sends them one after another anyway).
    const row = (await client.query<{ id: number; state: string; size_bytes: number; chunks: number; leased: boolean }>(
      `SELECT id, state, size_bytes, chunks, coalesce(lease_until > now(), false) AS leased FROM onec_files WHERE session_id = $1 AND name = $2 FOR UPDATE`,
      [session.id, name])).rows[0]!;
    const id = Number(row.id);
    if ((row.state === 'unpacking' || row.state === 'preparing') && row.leased) {
      throw new ExchangeFailure(`${name}: the file is being imported; send it again after the import answers`);
    }
    let base = Number(row.size_bytes);
    let chunks = row.chunks;
    if (row.state !== 'receiving') {
      // Sent again after its import: a new generation of the file, the old runs keep their payload
      // record (replays of them read the new bytes, which is what 1C now says the file is).
      base = 0;
      chunks = 0;
      await client.query(`UPDATE onec_files SET state = 'receiving', generation = generation + 1, run_ids = '{}', sha256 = NULL, error = NULL, archive = NULL, lease_until = NULL WHERE id = $1`, [id]);
    }
    await mkdir(path.dirname(full), { recursive: true });
    const fh = await open(full, 'a');
    let size = base;
    try {
      const st = await fh.stat();
      if (st.size < base) throw new ExchangeFailure(`${name}: ${base} bytes were received but ${st.size} are on disk; send the whole file again`);
      if (st.size > base) await fh.truncate(base); // a chunk that failed after writing, or a crash mid-chunk
      const hash = hashes.start(id, session.id, base);
      let count = 0;
      // Socket reads are small (64 KiB): gather them into writes of a few MiB (fewer round trips to the
      // thread pool), never more than that in memory.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (!pendingBytes) return;
        const parts = pending;
        pending = [];
        pendingBytes = 0;
        await fh.writev(parts);
      };
      // Leaving the loop early must not destroy the request: 1C still has to read our answer.
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        count += chunk.length;
        if (count > s.fileLimit) throw new ExchangeFailure(`${name}: the POST is larger than file_limit=${s.fileLimit} bytes`);
        if (base + count > s.maxFileBytes) throw new ExchangeFailure(`${name}: the file is larger than the limit of ${s.maxFileBytes} bytes`);
        hash?.update(chunk);
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= WRITE_BYTES || pending.length >= 512) await flush();
      }
      await flush();
      size = base + count;
      // Writeback starts now, overlapping the next chunk; the handle closes once it is done.
      void fh.datasync().catch(() => {}).finally(() => fh.close().catch(() => {}));
    } catch (e) {
      hashes.forget(id);
      await fh.truncate(base).catch(() => {});
      await fh.close().catch(() => {});
      // Nothing of the file was received before this POST: no empty file stays under its name.
      if (base === 0) await rm(full, { force: true }).catch(() => {});
      if (!(e instanceof ExchangeFailure)) {
        throw new ExchangeFailure(`${name}: the upload broke off (${(e as Error).message}); nothing of this POST was kept`);
      }
      throw e;
    }
    hashes.commit(id, size);
    await client.query(`UPDATE onec_files SET size_bytes = $2, chunks = $3, updated_at = now() WHERE id = $1`, [id, size, chunks + 1]);
    await client.query('COMMIT');
    return { id, name, path: full, size, chunks: chunks + 1 };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}
