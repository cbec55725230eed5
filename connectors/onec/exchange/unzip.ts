// Unpacks the zip archive 1C sends with zip=yes, refusing what could hurt: names that leave the session
// directory (absolute, `..`, drive letters), symbolic links and other special entries, encrypted
// entries, a total uncompressed size or a compression ratio past the limits (zip bombs), and entries
// whose data does not match their CRC. All or nothing: a refused archive leaves no file behind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import { ExchangeFailure, sessionPath } from './files.ts';
import { checkFileName, NameRefused, printableName } from './names.ts';
import type { ExchangeSession } from './sessions.ts';

export interface UnzipLimits {
  /** Largest total uncompressed size. */
  maxBytes: number;
  /** Largest uncompressed/compressed ratio of an entry and of the whole archive. */
  maxRatio: number;
}

export interface UnpackedEntry {
  name: string;
  path: string;
  size: number;
  sha256: string;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/** yauzl's messages are technical; say what they mean for the archive. */
function describe(e: unknown): string {
  const m = (e as Error).message ?? String(e);
  if (/end of central directory record signature not found/i.test(m)) return 'not a zip archive, or truncated (no end of central directory)';
  if (/invalid (central directory|local) file header signature|unexpected EOF|too short|invalid stored block|invalid distance|invalid block type|incorrect header check|unknown compression method/i.test(m)) {
    return `corrupt archive (${m})`;
  }
  return m;
}

export async function unpackArchive(zipPath: string, zipName: string, session: ExchangeSession, limits: UnzipLimits): Promise<UnpackedEntry[]> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(zipPath, { autoClose: true, validateEntrySizes: true, decodeStrings: true, strictFileNames: false });
  } catch (e) {
    throw new ExchangeFailure(`${zipName}: ${describe(e)}`);
  }
  const parts: Array<{ tmp: string; entry: UnpackedEntry }> = [];
  let total = 0;
  try {
    const seen = new Set<string>();
    for await (const entry of zip.eachEntry()) {
      const raw = entry.fileName;
      if (raw.endsWith('/')) continue; // directories are made as their files need them
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR) {
        throw new ExchangeFailure(`${zipName}: entry ${printableName(raw)} is ${mode === 0o120000 ? 'a symbolic link' : 'not a regular file'} (refused)`);
      }
      if (entry.isEncrypted()) throw new ExchangeFailure(`${zipName}: entry ${printableName(raw)} is encrypted (refused)`);
      let name: string;
      try {
        name = checkFileName(raw);
      } catch (e) {
        if (e instanceof NameRefused) throw new ExchangeFailure(`${zipName}: entry ${printableName(raw)} refused: ${e.message}`);
        throw e;
      }
      if (seen.has(name)) throw new ExchangeFailure(`${zipName}: entry ${name} appears twice`);
      seen.add(name);
      // Declared sizes first (cheap), then the bytes themselves (yauzl checks they match the declaration).
      if (entry.uncompressedSize > 0 && (entry.compressedSize === 0 || entry.uncompressedSize / entry.compressedSize > limits.maxRatio)) {
        throw new ExchangeFailure(`${zipName}: entry ${name} would expand ${entry.compressedSize ? Math.round(entry.uncompressedSize / entry.compressedSize) : '∞'} times (limit ${limits.maxRatio}): refused as a zip bomb`);
      }
      if (total + entry.uncompressedSize > limits.maxBytes) {
        throw new ExchangeFailure(`${zipName}: the archive expands past ${limits.maxBytes} bytes: refused as a zip bomb`);
      }
      const full = sessionPath(session, name);
      await mkdir(path.dirname(full), { recursive: true });
      const tmp = `${full}.part-${randomBytes(4).toString('hex')}`;
      const fh = await open(tmp, 'wx');
      parts.push({ tmp, entry: { name, path: full, size: 0, sha256: '' } });
      const hash = createHash('sha256');
      let crc = 0;
      let size = 0;
      try {
        const stream = await zip.openReadStreamPromise(entry);
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (total + size > limits.maxBytes) throw new ExchangeFailure(`${zipName}: the archive expands past ${limits.maxBytes} bytes: refused as a zip bomb`);
          crc = crc32(chunk, crc);
          hash.update(chunk);
          await fh.write(chunk);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      if ((crc >>> 0) !== (entry.crc32 >>> 0)) throw new ExchangeFailure(`${zipName}: entry ${name} is corrupt (CRC-32 mismatch)`);
      total += size;
      const last = parts[parts.length - 1]!.entry;
      last.size = size;
      last.sha256 = hash.digest('hex');
    }
    if (zip.fileSize > 0 && total / zip.fileSize > limits.maxRatio) {
      throw new ExchangeFailure(`${zipName}: the archive expands ${Math.round(total / zip.fileSize)} times (limit ${limits.maxRatio}): refused as a zip bomb`);
    }
  } catch (e) {
    zip.close();
    await Promise.all(parts.map((p) => rm(p.tmp, { force: true })));
    if (e instanceof ExchangeFailure) throw e;
    throw new ExchangeFailure(`${zipName}: ${describe(e)}`);
  }
  for (const p of parts) await rename(p.tmp, p.entry.path);
  return parts.map((p) => p.entry);
}
