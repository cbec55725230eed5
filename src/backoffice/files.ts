// The portal's file store: generated invoices and acts, closing documents received from the ERP,
// contract scans. Content lives under MAGISTRAL_DATA_DIR/files/<sha256[0..2]>/<sha256>, written to a
// temporary name, fsynced and renamed (a crash leaves no half file under the final name); a row in
// stored_files records its size and type. Rows of documents refer to the sha256; a file is served only
// through such a row the viewer may see, never by a name or path from the request.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { MagistralError } from '../errors/index.ts';

type Db = Kysely<Database>;

const SHA = /^[0-9a-f]{64}$/;

export interface StoredFile {
  sha256: string;
  sizeBytes: number;
  contentType: string;
}

export function filePath(dataDir: string, sha256: string): string {
  if (!SHA.test(sha256)) throw new Error(`not a sha256: ${sha256.slice(0, 80)}`);
  return path.resolve(dataDir, 'files', sha256.slice(0, 2), sha256);
}

/**
 * Stores bytes (idempotent: the same content is one file) and records them; `db` may be a transaction,
 * the file is on disk before the row commits (a rolled-back row leaves an unreferenced file, never a row
 * without its file).
 */
export async function storeFile(db: Db, dataDir: string, content: Uint8Array, contentType: string): Promise<StoredFile> {
  const sha256 = createHash('sha256').update(content).digest('hex');
  const target = filePath(dataDir, sha256);
  const exists = await stat(target).then((s) => s.size === content.byteLength, () => false);
  if (!exists) {
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(content);
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => {});
      // Nothing half-written stays behind; a full disk is said as such (issue 17).
      await rm(tmp, { force: true });
      const code = (e as NodeJS.ErrnoException)?.code;
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new MagistralError('MAG_ERR_STORAGE_FULL', `no space left under the file store (${path.dirname(path.dirname(target))}): the file (${content.byteLength} bytes) was not kept; free space and try again`);
      }
      throw e;
    }
    await fh.close();
    try {
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }
  await sql`INSERT INTO stored_files (sha256, size_bytes, content_type) VALUES (${sha256}, ${content.byteLength}, ${contentType})
    ON CONFLICT (sha256) DO NOTHING`.execute(db);
  return { sha256, sizeBytes: content.byteLength, contentType };
}

/** A stream of a stored file's content; undefined when the row or the file is missing. */
export async function openStoredFile(db: Db, dataDir: string, sha256: string): Promise<{ file: StoredFile; stream: ReadStream } | undefined> {
  if (!SHA.test(sha256)) return undefined;
  const row = await db.selectFrom('stored_files').select(['sha256', 'size_bytes', 'content_type']).where('sha256', '=', sha256).executeTakeFirst();
  if (!row) return undefined;
  const p = filePath(dataDir, sha256);
  const ok = await stat(p).then((s) => s.isFile(), () => false);
  if (!ok) return undefined;
  return { file: { sha256: row.sha256, sizeBytes: Number(row.size_bytes), contentType: row.content_type }, stream: createReadStream(p) };
}

/**
 * A Content-Disposition value for a download name: the ASCII fallback keeps only safe characters, the
 * UTF-8 name (RFC 5987) carries the Russian one; neither can break out of the header.
 */
export function contentDisposition(fileName: string, inline = false): string {
  const clean = fileName.replace(/[\r\n"\\/]/g, '_').slice(0, 180) || 'file';
  const ascii = clean.replace(/[^A-Za-z0-9._ -]/g, '_');
  return `${inline ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(clean)}`;
}
