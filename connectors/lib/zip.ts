// Reads a zip archive held in memory (a payload already bounded by the inbox's size limit) into its files,
// refusing what could hurt: more entries than allowed, an entry or the whole expanding past the limits or
// by a ratio no honest document reaches (zip bombs; the declared sizes are checked first, then the bytes
// themselves, since a declaration may lie), encrypted entries, two entries with one name, data that does not
// match its CRC. Entries that are not regular files (links, devices) and names that would climb out of a
// folder (absolute, `..`, drive letters, backslashes, control characters) are skipped and reported: nothing is
// ever written by such a name, but the reader says they were there. Names are matched case-insensitively.
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';

export interface ZipLimits {
  maxEntries: number;
  /** Largest uncompressed size of one file. */
  maxFileBytes: number;
  /** Largest uncompressed size of the whole archive. */
  maxTotalBytes: number;
  /** Largest uncompressed/compressed ratio of an entry. */
  maxRatio: number;
}

export type ZipRefusal =
  | { reason: 'not-zip' }
  | { reason: 'corrupt'; detail: string }
  | { reason: 'too-many-entries'; count: number; limit: number }
  | { reason: 'encrypted'; entry: string }
  | { reason: 'file-too-big'; entry: string; limit: number }
  | { reason: 'ratio'; entry: string; ratio: number | null; limit: number }
  | { reason: 'total-too-big'; entry: string; limit: number }
  | { reason: 'lying-size'; entry: string }
  | { reason: 'duplicate'; entry: string }
  | { reason: 'crc'; entry: string }
  | { reason: 'bad-name'; entry: string };

/** The archive as a whole cannot be taken; `refusal` says why in a form callers can word in their own language. */
export class ZipRefused extends Error {
  readonly refusal: ZipRefusal;
  constructor(refusal: ZipRefusal) {
    super(englishRefusal(refusal));
    this.name = 'ZipRefused';
    this.refusal = refusal;
  }
}

const mb = (n: number): string => `${Math.round(n / 1024 / 1024)} MB`;

function englishRefusal(r: ZipRefusal): string {
  switch (r.reason) {
    case 'not-zip': return 'not a zip archive, or truncated';
    case 'corrupt': return `corrupt archive (${r.detail})`;
    case 'too-many-entries': return `the archive holds ${r.count} entries, at most ${r.limit} are allowed`;
    case 'encrypted': return `entry ${r.entry} is encrypted`;
    case 'file-too-big': return `entry ${r.entry} is larger than ${mb(r.limit)}`;
    case 'ratio': return `entry ${r.entry} would expand ${r.ratio ?? '∞'} times (limit ${r.limit}): refused as a zip bomb`;
    case 'total-too-big': return `the archive expands past ${mb(r.limit)} (at ${r.entry}): refused as a zip bomb`;
    case 'lying-size': return `entry ${r.entry} expands past its declared size: refused as a zip bomb`;
    case 'duplicate': return `entry ${r.entry} appears twice`;
    case 'crc': return `entry ${r.entry} is corrupt (CRC-32 mismatch)`;
    case 'bad-name': return `entry ${r.entry} has a name that leaves the archive (absolute path or ..): refused`;
  }
}

export interface ZipSkip {
  entry: string;
  why: 'bad-name' | 'not-a-file';
}

export interface ZipContents {
  /** Lower-cased name → bytes. */
  files: Map<string, Buffer>;
  /** Entries left out (never read, never written anywhere). */
  skipped: ZipSkip[];
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/** A name for messages: control characters shown as `?`, cut to 120 characters. */
export const printableEntry = (s: string): string => s.replace(/[\u0000-\u001f]/g, '?').slice(0, 120);

/** A path inside an archive that stays inside it (relative, no `.`/`..`, no drive, no backslash, no control characters), else undefined. */
export function safeEntryName(raw: string): string | undefined {
  if (!raw || raw.length > 255 || /[\u0000-\u001f\\]/.test(raw) || raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) return undefined;
  const parts = raw.split('/');
  if (parts.some((p) => p === '..' || p === '.' || p === '')) return undefined;
  return raw;
}

export async function readZip(content: Buffer, limits: ZipLimits): Promise<ZipContents> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(content, { validateEntrySizes: true, decodeStrings: true, strictFileNames: false });
  } catch {
    throw new ZipRefused({ reason: 'not-zip' });
  }
  if (zip.entryCount > limits.maxEntries) {
    zip.close();
    throw new ZipRefused({ reason: 'too-many-entries', count: zip.entryCount, limit: limits.maxEntries });
  }
  const files = new Map<string, Buffer>();
  const skipped: ZipSkip[] = [];
  let total = 0;
  try {
    for await (const entry of zip.eachEntry()) {
      const raw = entry.fileName;
      if (raw.endsWith('/')) continue;
      const name = safeEntryName(raw);
      if (!name) {
        skipped.push({ entry: printableEntry(raw), why: 'bad-name' });
        continue;
      }
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (mode !== 0 && mode !== S_IFREG) {
        skipped.push({ entry: printableEntry(raw), why: 'not-a-file' });
        continue;
      }
      const shown = printableEntry(raw);
      if (entry.isEncrypted()) throw new ZipRefused({ reason: 'encrypted', entry: shown });
      if (entry.uncompressedSize > limits.maxFileBytes) throw new ZipRefused({ reason: 'file-too-big', entry: shown, limit: limits.maxFileBytes });
      if (entry.uncompressedSize > 0 && (entry.compressedSize === 0 || entry.uncompressedSize / entry.compressedSize > limits.maxRatio)) {
        throw new ZipRefused({ reason: 'ratio', entry: shown, ratio: entry.compressedSize ? Math.round(entry.uncompressedSize / entry.compressedSize) : null, limit: limits.maxRatio });
      }
      if (total + entry.uncompressedSize > limits.maxTotalBytes) throw new ZipRefused({ reason: 'total-too-big', entry: shown, limit: limits.maxTotalBytes });
      const key = name.toLowerCase();
      if (files.has(key)) throw new ZipRefused({ reason: 'duplicate', entry: shown });
      const chunks: Buffer[] = [];
      let size = 0;
      let crc = 0;
      const stream = await zip.openReadStreamPromise(entry);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limits.maxFileBytes || total + size > limits.maxTotalBytes) throw new ZipRefused({ reason: 'lying-size', entry: shown });
        crc = crc32(chunk, crc);
        chunks.push(chunk);
      }
      if ((crc >>> 0) !== (entry.crc32 >>> 0)) throw new ZipRefused({ reason: 'crc', entry: shown });
      total += size;
      files.set(key, Buffer.concat(chunks));
    }
  } catch (e) {
    zip.close();
    if (e instanceof ZipRefused) throw e;
    const m = /invalid relative path: (.*)|absolute path: (.*)/.exec((e as Error).message);
    // yauzl refuses such names itself while listing: an archive built to climb out of its folder is hostile.
    if (m) throw new ZipRefused({ reason: 'bad-name', entry: printableEntry(m[1] ?? m[2] ?? '') });
    throw new ZipRefused({ reason: 'corrupt', detail: (e as Error).message });
  }
  return { files, skipped };
}
