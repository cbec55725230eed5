// The file.documents connector: closing documents (УПД, waybills, invoice-factures, acts) as files with
// their metadata. A payload is a zip archive holding the documents' files and a manifest (`manifest.csv`:
// one line per document — order; kind; number; date; amount; file), as an EDO service or an ERP export
// drops it. Each manifest line becomes a record of the line's columns plus the stored file's facts
// (`file.sha256`, `file.size`, `file.contentType`, `file.name`): the file is kept in the store's file store
// while the payload is read, so the merge only refers to it.
//
// What the archive as a whole cannot be (not a zip, a zip bomb, encrypted, no manifest, a manifest without
// a file column) fails the run with the reason: nothing of it is merged. What one line gets wrong (its file
// missing from the archive, a name that climbs out of it, a file that is not a document by its content,
// an executable named .pdf, a PDF with scripts) rejects that line with its reason while the others go on;
// a file in the archive that no line names, and an entry skipped for its name or for not being a regular
// file, are rejected too, so nothing the sender sent disappears without a word.
import { Readable } from 'node:stream';
import {
  MagistralError, PayloadError, type Connector, type ParseContext, type PayloadFileStore, type SourceRecord,
} from '../../src/port/index.ts';
import { documentType, otherKind, pdfProblem, printableEntry, readZip, safeEntryName, ZipRefused, type DocumentType, type ZipLimits } from '../lib/index.ts';
import { csvConnector } from './csv.ts';

const MB = 1024 * 1024;

export const DOCUMENTS_OPTIONS_SCHEMA = {
  $id: 'https://magistral.dev/schemas/connectors/file.documents.options.json',
  title: 'file.documents options',
  type: 'object',
  additionalProperties: false,
  properties: {
    manifest: { type: 'string', minLength: 1, maxLength: 255, default: 'manifest.csv', description: 'name of the manifest inside the archive (any folder; case-insensitive)' },
    encoding: { enum: ['utf-8', 'windows-1251', 'auto'], default: 'auto', description: 'text encoding of the manifest, or auto (BOM or valid UTF-8 → UTF-8, else Windows-1251)' },
    types: {
      type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['application/pdf', 'image/jpeg', 'image/png'] }, default: ['application/pdf'],
      description: 'file types accepted, as read from the content (a name or extension proves nothing)',
    },
    maxFileMegabytes: { type: 'integer', minimum: 1, maximum: 512, default: 20, description: 'largest document file' },
    maxTotalMegabytes: { type: 'integer', minimum: 1, maximum: 4096, default: 256, description: 'largest uncompressed size of the whole archive' },
    maxEntries: { type: 'integer', minimum: 1, maximum: 100000, default: 5000, description: 'most entries in one archive' },
    maxRatio: { type: 'integer', minimum: 10, maximum: 10000, default: 200, description: 'largest compression ratio of an entry (a zip bomb expands far past it; PDFs compress 1-10 times)' },
  },
} as const;

interface DocumentsOptions {
  manifest: string;
  encoding: 'utf-8' | 'windows-1251' | 'auto';
  types: DocumentType[];
  limits: ZipLimits;
}

function resolveOptions(raw: Record<string, unknown>): DocumentsOptions {
  return {
    manifest: ((raw.manifest as string | undefined) ?? 'manifest.csv').toLowerCase(),
    encoding: (raw.encoding as DocumentsOptions['encoding'] | undefined) ?? 'auto',
    types: (raw.types as DocumentType[] | undefined) ?? ['application/pdf'],
    limits: {
      maxEntries: (raw.maxEntries as number | undefined) ?? 5000,
      maxFileBytes: ((raw.maxFileMegabytes as number | undefined) ?? 20) * MB,
      maxTotalBytes: ((raw.maxTotalMegabytes as number | undefined) ?? 256) * MB,
      maxRatio: (raw.maxRatio as number | undefined) ?? 200,
    },
  };
}

/**
 * Manifest columns as people write them (English or Russian, any case) → the names records carry, so one
 * mapping reads either. Other columns pass through as they are.
 */
const COLUMN_NAMES: Record<string, string> = {
  order: 'order', 'заказ': 'order', 'номер заказа': 'order',
  kind: 'kind', 'вид': 'kind', 'вид документа': 'kind', 'тип': 'kind',
  number: 'number', 'номер': 'number', 'номер документа': 'number',
  date: 'date', 'дата': 'date', 'дата документа': 'date',
  amount: 'amount', 'сумма': 'amount',
  file: 'file', 'файл': 'file', 'имя файла': 'file',
};

const columnName = (h: string): string => COLUMN_NAMES[h.trim().toLowerCase().replace(/ё/g, 'е').replace(/\s+/g, ' ')] ?? h;

const TYPE_NAMES: Record<DocumentType, string> = { 'application/pdf': 'PDF', 'image/jpeg': 'JPEG', 'image/png': 'PNG' };
const EXTENSION: Record<DocumentType, string> = { 'application/pdf': '.pdf', 'image/jpeg': '.jpg', 'image/png': '.png' };

/** Why a file's bytes are not an accepted document, or undefined when they are (with their type). */
function judge(content: Buffer, o: DocumentsOptions): { type: DocumentType } | { why: string } {
  if (content.byteLength === 0) return { why: 'the file is empty' };
  const type = documentType(content);
  const wanted = o.types.map((t) => TYPE_NAMES[t]).join(', ');
  if (!type || !o.types.includes(type)) {
    const seen = type ? TYPE_NAMES[type] : otherKind(content);
    return { why: `the file is ${seen ? `${seen.startsWith('exe') ? 'an executable' : seen} by its content` : 'no document by its content'}, expected ${wanted} (a name or extension does not change the content)` };
  }
  if (type === 'application/pdf') {
    const p = pdfProblem(content);
    if (p === 'truncated') return { why: 'the PDF is truncated or damaged (no %%EOF at its end)' };
    if (p === 'active') return { why: 'the PDF carries active content (JavaScript, launch actions or embedded files)' };
  }
  return { type };
}

/** The name a buyer downloads: the archive entry's own name, its extension set from the content. */
function downloadName(entry: string, type: DocumentType): string {
  const base = entry.replace(/^.*\//, '').replace(/[\u0000-\u001f"\\]/g, '').replace(/\.[A-Za-z0-9]{1,5}$/, '').trim().slice(0, 150) || 'document';
  return `${base}${EXTENSION[type]}`;
}

async function readAll(input: Readable, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) {
    signal?.throwIfAborted();
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks);
}

async function* parseDocuments(input: Readable, ctx: ParseContext): AsyncIterable<SourceRecord[]> {
  const o = resolveOptions(ctx.options);
  const store: PayloadFileStore | undefined = ctx.files;
  if (!store) throw new MagistralError('MAG_ERR_FLOW_INVALID', 'file.documents: this reader of payloads keeps no files (the caller gave no file store)');
  // Bounded by the inbox: a payload is at most MAGISTRAL_MAX_PAYLOAD_BYTES; a zip is read from its end.
  const archive = await readAll(input, ctx.signal);
  let files: Map<string, Buffer>;
  let skipped;
  try {
    ({ files, skipped } = await readZip(archive, o.limits));
  } catch (e) {
    if (e instanceof ZipRefused) throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: ctx.fileName }, e.message);
    throw e;
  }
  const manifestName = [...files.keys()].find((n) => n === o.manifest || n.endsWith(`/${o.manifest}`));
  if (!manifestName) {
    throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: ctx.fileName }, `the archive holds no ${o.manifest} (one line per document: order; kind; number; date; amount; file)`);
  }
  const manifestFile = `${ctx.fileName}/${manifestName}`;
  const named = new Set<string>([manifestName]);
  const out: SourceRecord[] = [];
  let header: string[] | undefined;
  // The manifest is a CSV: read by the file.csv reader (delimiter detection, quotes, encodings, line numbers).
  for await (const batch of csvConnector.parse(Readable.from([files.get(manifestName)!]), { fileName: manifestFile, options: { encoding: o.encoding } })) {
    for (const rec of batch) {
      if (!header) {
        header = Object.keys(rec.data);
        const cols = header.map(columnName);
        if (!cols.includes('file')) {
          throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: manifestFile, line: 1 }, `the manifest has no file column (file or файл) among: ${header.join(', ')}`);
        }
      }
      const data: Record<string, string> = {};
      for (const [k, v] of Object.entries(rec.data)) data[columnName(k)] = v;
      const at = { line: rec.line, path: manifestName };
      const raw = (data.file ?? '').trim();
      const name = raw ? safeEntryName(raw.replace(/^\.\//, '')) : undefined;
      const reject = (reason: string) => out.push({ data, ...at, reject: { field: 'file', rule: 'file', reason } });
      if (!raw) { reject('no file named'); continue; }
      if (!name) { reject(`file name ${JSON.stringify(printableEntry(raw))} leaves the archive (absolute path or ..)`); continue; }
      // A file the manifest names in a folder is looked up as written; a bare name also beside the manifest.
      const dir = manifestName.includes('/') ? manifestName.slice(0, manifestName.lastIndexOf('/') + 1) : '';
      const key = files.has(name.toLowerCase()) ? name.toLowerCase() : `${dir}${name.toLowerCase()}`;
      const content = files.get(key);
      if (!content) { reject(`file ${JSON.stringify(printableEntry(name))} is not in the archive`); continue; }
      named.add(key);
      const verdict = judge(content, o);
      if ('why' in verdict) { reject(`${printableEntry(name)}: ${verdict.why}`); continue; }
      const stored = await store.store(content, verdict.type);
      out.push({
        data: { ...data, 'file.sha256': stored.sha256, 'file.size': String(stored.sizeBytes), 'file.contentType': verdict.type, 'file.name': downloadName(name, verdict.type) },
        ...at,
      });
    }
    if (out.length >= 500) yield out.splice(0);
  }
  // Nothing the sender sent goes unsaid: files no line names, entries skipped for their names or kinds.
  for (const n of [...files.keys()].filter((k) => !named.has(k)).sort()) {
    out.push({ data: { file: n }, path: n, reject: { field: 'file', rule: 'manifest', reason: `file ${JSON.stringify(n)} is in the archive but no line of ${o.manifest} names it` } });
  }
  for (const s of skipped) {
    out.push({
      data: { file: s.entry }, path: s.entry,
      reject: { field: 'file', rule: 'archive', reason: s.why === 'bad-name' ? `entry ${JSON.stringify(s.entry)} skipped: its name leaves the archive (absolute path or ..)` : `entry ${JSON.stringify(s.entry)} skipped: not a regular file (a link or a device)` },
    });
  }
  if (out.length) yield out;
}

export const documentsConnector: Connector = {
  kind: 'file.documents',
  optionsSchema: DOCUMENTS_OPTIONS_SCHEMA,
  parse: parseDocuments,
};
