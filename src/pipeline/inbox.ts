// The inbox (claim check): a payload is written to MAGISTRAL_DATA_DIR with its sha256, durably, before it
// is recorded with its runs (receive.ts) and the sender is acknowledged; queues only carry the run id.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, readSync } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MagistralError, PayloadError } from '../errors/index.ts';

export interface IncomingFile {
  fileName: string;
  body: Readable;
  contentType?: string;
}

export interface StoredPayload {
  path: string;
  sha256: string;
  size: number;
}

/** Keeps a sender's file name readable in the inbox path but harmless (no separators, no dot-dot). */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? 'payload';
  const clean = base.replace(/[^\p{L}\p{N}._-]+/gu, '_').replace(/^\.+/, '').slice(0, 120);
  return clean || 'payload';
}

/** Streams a body to disk with its sha256, refusing more than `maxBytes`; fsyncs before returning. */
export async function storePayload(dataDir: string, flow: string, file: IncomingFile, maxBytes: number): Promise<StoredPayload> {
  const day = new Date().toISOString().slice(0, 10);
  const dir = path.resolve(dataDir, 'inbox', flow, day);
  await mkdir(dir, { recursive: true });
  const full = path.join(dir, `${randomUUID()}-${safeFileName(file.fileName)}`);
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > maxBytes) {
        cb(new PayloadError('MAG_ERR_PAYLOAD_TOO_LARGE', { file: file.fileName }, `payload is larger than the limit of ${maxBytes} bytes`));
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(file.body, meter, createWriteStream(full, { flags: 'wx' }));
    // Durable before acknowledging: the file's data, then its directory entry.
    const fh = await open(full, 'r');
    await fh.sync();
    await fh.close();
    const dh = await open(dir, 'r');
    await dh.sync().catch(() => {});
    await dh.close();
  } catch (e) {
    await rm(full, { force: true });
    const code = (e as NodeJS.ErrnoException)?.code;
    // A full disk (or quota) is the operator's to fix, not the sender's payload: said as such, with the file.
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new MagistralError('MAG_ERR_STORAGE_FULL', `${file.fileName}: no space left under the inbox (${dataDir}): the payload was refused and nothing of it was kept; free space and send it again`);
    }
    throw e;
  }
  return { path: full, sha256: hash.digest('hex'), size };
}


/**
 * Opens a stored payload for reading, in chunks of 256 KiB. A parser turns a whole chunk into records
 * at once, and they stay alive while the extract waits for its COPY to drain: with 1 MiB chunks that
 * was enough (a few MB) for every young-generation collection to promote them, and a 1M-price 1C
 * file cost 36 full collections instead of 5 (extract 5.2–5.6 s instead of 4.0 s in bench:onec).
 */
export function openPayload(p: string, reuse = false): Readable {
  if (!reuse) return createReadStream(p, { highWaterMark: 1 << 18 });
  async function* chunks(): AsyncGenerator<Buffer> {
    const fh = await open(p, 'r');
    const ring = new ChunkRing(PAYLOAD_CHUNK);
    try {
      for (;;) {
        const buf = ring.next();
        const bytesRead = readInto(fh, buf, buf.length, null);
        if (bytesRead === 0) return;
        yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 1 });
}

const PAYLOAD_CHUNK = 1 << 18;

/**
 * Reads up to `want` bytes at `pos` (null: where the last read ended) into `buf`, synchronously. For a
 * reused buffer (ChunkRing) the promise read cost more CPU than the copy: a 435 MB file in 256 KiB reads
 * took 210-230 ms of CPU through FileHandle.read and 88-90 ms through readSync, and in a profile of
 * bench:onec the worker's main thread spent 0.32 s in the promise read's binding. The bytes are in the
 * page cache (a payload just stored, a growing file's just-written bytes); one read of 256 KiB holds the
 * event loop well under the 10 ms a parse may hold it between turns (engine.ts).
 */
export function readInto(fh: FileHandle, buf: Buffer, want: number, pos: number | null): number {
  return readSync(fh.fd, buf, 0, want, pos);
}

/**
 * Buffers read into in turn, for a parser that keeps nothing of a chunk once it asks for the next
 * (Connector.copiesInput). A new Buffer per chunk is memory outside V8's heap, and V8 answers every few
 * MB of it with a full collection: reading a 1M-price 1C file (435 MB) cost the worker 40 of them, 1.2 s
 * of 9.6 s of CPU (a profile and --trace-gc of bench:onec); read into reused buffers, 9 instead of 61 in
 * onec-read-cpu.ts. A chunk is read into again only after RING - 1 later ones: the Readable made of the
 * reads (highWaterMark 1) holds one chunk beside the one its reader works on.
 */
export class ChunkRing {
  private readonly bufs: Buffer[] = [];
  private k = 0;

  constructor(private readonly size: number) {}

  next(): Buffer {
    const i = this.k++ % RING;
    return (this.bufs[i] ??= Buffer.allocUnsafe(this.size));
  }
}
const RING = 4;
