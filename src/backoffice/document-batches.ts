// Closing documents received as files: a zip with PDFs and `manifest.csv` (order number; kind; number;
// date; amount; file name — one line per document). Each good line becomes the order's document with its
// PDF (stored by sha256) and a 'document-new' e-mail; a bad line (unknown order, unknown kind, a file the
// archive lacks, a file that is not a PDF, a name that climbs out of the archive) is rejected with its
// reason while the good lines are kept. The archive itself is refused whole when it could hurt: not a
// zip, too many entries, expanding past the limits (zip bomb), encrypted or special entries. Every batch
// is recorded (document_batches) with what each line became. The e-mails are written by the one notifier
// of closing documents (document-notices.ts) in the same transaction as the documents.
//
// The same archives can come through a flow instead (connector file.documents, target orderDocuments):
// then they get an inbox entry, a run, rejects with positions and replay, like every other payload.
import { createHash } from 'node:crypto';
import iconv from 'iconv-lite';
import { sql, type Kysely } from 'kysely';
import { printableEntry, readZip, safeEntryName as safeName, ZipRefused, type ZipRefusal } from '../../connectors/lib/index.ts';
import type { Database } from '../db/index.ts';
import { documentKindName, parseOrderDocumentKind } from './document-kinds.ts';
import { FileRefused, sniffUpload } from './file-type.ts';
import { storeFile } from './files.ts';
import { documentNoticesIn } from './document-notices.ts';

type Db = Kysely<Database>;

export interface BatchLimits {
  maxEntries: number;
  /** Largest uncompressed size of one file and of the whole archive. */
  maxFileBytes: number;
  maxTotalBytes: number;
  /** Largest uncompressed/compressed ratio of an entry. */
  maxRatio: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxEntries: 5000, maxFileBytes: 20 * 1024 * 1024, maxTotalBytes: 256 * 1024 * 1024, maxRatio: 200 };

/** The archive as a whole cannot be taken (nothing of it is kept). */
export class BatchRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchRefused';
  }
}

export interface BatchRow {
  line: number;
  order: string;
  kind: string;
  number: string;
  outcome: 'accepted' | 'unchanged' | 'rejected';
  reason?: string;
  documentId?: number;
}

export interface BatchReport {
  id: number;
  accepted: number;
  unchanged: number;
  rejected: number;
  rows: BatchRow[];
  /** Entries of the archive no line names, and entries skipped for their names. */
  warnings: string[];
}

const printable = printableEntry;
const mbRu = (n: number): number => Math.round(n / 1024 / 1024);

/** A refusal of the archive reader in the Russian the sender reads. */
function refusalText(r: ZipRefusal): string {
  switch (r.reason) {
    case 'not-zip': return 'файл не является zip-архивом или повреждён';
    case 'corrupt': return `архив повреждён: ${r.detail}`;
    case 'too-many-entries': return `в архиве ${r.count} файлов, можно не больше ${r.limit}`;
    case 'encrypted': return `файл «${r.entry}» зашифрован`;
    case 'file-too-big': return `файл «${r.entry}» больше ${mbRu(r.limit)} МБ`;
    case 'ratio': return `файл «${r.entry}» распаковывается в ${r.ratio ?? '∞'} раз больше (предел ${r.limit}): архив отклонён как zip-бомба`;
    case 'total-too-big': return `архив распаковывается больше чем в ${mbRu(r.limit)} МБ: отклонён как zip-бомба`;
    case 'lying-size': return `файл «${r.entry}» распаковывается больше заявленного: архив отклонён как zip-бомба`;
    case 'duplicate': return `файл «${r.entry}» встречается в архиве дважды`;
    case 'crc': return `файл «${r.entry}» повреждён (не сходится контрольная сумма)`;
    case 'bad-name': return `в архиве файл с недопустимым именем «${r.entry}» (путь за пределы архива): архив отклонён`;
  }
}

async function readArchive(content: Buffer, limits: BatchLimits): Promise<{ files: Map<string, Buffer>; warnings: string[] }> {
  try {
    const { files, skipped } = await readZip(content, limits);
    // Never written to disk by name; still, such entries are a sign of a hostile archive: skipped, said.
    const warnings = skipped.map((s) => (s.why === 'bad-name'
      ? `файл «${s.entry}» пропущен: недопустимое имя (абсолютный путь или «..»)`
      : `«${s.entry}» пропущен: не обычный файл (ссылка или устройство)`));
    return { files, warnings };
  } catch (e) {
    if (e instanceof ZipRefused) throw new BatchRefused(refusalText(e.refusal));
    throw e;
  }
}

/** The manifest's text: UTF-8 (with or without BOM), else Windows-1251 (what Excel in Russia saves). */
function manifestText(b: Buffer): string {
  const utf = b.toString('utf8').replace(/^\uFEFF/, '');
  return utf.includes('\uFFFD') ? iconv.decode(b, 'win1251') : utf;
}

/** One CSV line (`;` or `,`; quotes with doubled quotes inside). */
function splitLine(line: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (q) {
      if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') q = false; else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === sep) { out.push(cur); cur = ''; } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

const COLUMNS: Record<string, string[]> = {
  order: ['order', 'заказ', 'номер заказа'],
  kind: ['kind', 'вид', 'вид документа', 'тип'],
  number: ['number', 'номер', 'номер документа'],
  date: ['date', 'дата', 'дата документа'],
  amount: ['amount', 'сумма'],
  file: ['file', 'файл', 'имя файла'],
};

function parseDate(v: string): string | undefined {
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  let ymd: [number, number, number] | undefined;
  if (m) ymd = [Number(m[1]), Number(m[2]), Number(m[3])];
  m = /^(\d{2})\.(\d{2})\.(\d{4})$/.exec(v);
  if (m) ymd = [Number(m[3]), Number(m[2]), Number(m[1])];
  if (!ymd) return undefined;
  const d = new Date(Date.UTC(ymd[0], ymd[1] - 1, ymd[2]));
  if (d.getUTCFullYear() !== ymd[0] || d.getUTCMonth() !== ymd[1] - 1 || d.getUTCDate() !== ymd[2]) return undefined;
  return d.toISOString().slice(0, 10);
}

/**
 * Takes one batch. `source` names where it came from (a flow, 'admin-api', 'cli'); it is the documents'
 * source ('file:<source>') and the batch's. Throws BatchRefused for an archive that cannot be taken (the
 * refusal is recorded too).
 */
export async function importDocumentBatch(db: Db, dataDir: string, input: { source: string; fileName: string; content: Buffer }, limits: BatchLimits = DEFAULT_BATCH_LIMITS): Promise<BatchReport> {
  const sha256 = createHash('sha256').update(input.content).digest('hex');
  let archive;
  try {
    archive = await readArchive(input.content, limits);
  } catch (e) {
    if (e instanceof BatchRefused) {
      await db.insertInto('document_batches').values({ source: input.source, file_name: input.fileName.slice(0, 255), sha256, error: e.message }).execute();
    }
    throw e;
  }
  const manifestName = [...archive.files.keys()].find((n) => /(^|\/)manifest\.csv$/i.test(n));
  if (!manifestName) {
    const e = new BatchRefused('в архиве нет manifest.csv (заказ; вид; номер; дата; сумма; файл)');
    await db.insertInto('document_batches').values({ source: input.source, file_name: input.fileName.slice(0, 255), sha256, error: e.message }).execute();
    throw e;
  }
  const lines = manifestText(archive.files.get(manifestName)!).split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  const header = lines[headerAt] ?? '';
  const sep = header.includes(';') ? ';' : ',';
  const cols = splitLine(header, sep).map((h) => h.toLowerCase().replace(/ё/g, 'е'));
  const at: Record<string, number> = {};
  for (const [k, names] of Object.entries(COLUMNS)) at[k] = cols.findIndex((c) => names.includes(c));
  const missing = ['order', 'kind', 'number', 'file'].filter((k) => at[k]! < 0);
  if (missing.length) {
    const e = new BatchRefused(`в manifest.csv нет колонок: ${missing.map((k) => COLUMNS[k]![1]).join(', ')} (первая строка — заголовок: заказ; вид; номер; дата; сумма; файл)`);
    await db.insertInto('document_batches').values({ source: input.source, file_name: input.fileName.slice(0, 255), sha256, error: e.message }).execute();
    throw e;
  }
  const named = new Set<string>([manifestName]);
  const rows: BatchRow[] = [];
  const source = `file:${input.source}`;

  return db.transaction().execute(async (trx) => {
    const accepted: number[] = [];
    for (let i = headerAt + 1; i < lines.length; i++) {
      if (!lines[i]!.trim()) continue;
      const v = splitLine(lines[i]!, sep);
      const get = (k: string) => (at[k]! >= 0 ? v[at[k]!] ?? '' : '');
      const row: BatchRow = { line: i + 1, order: get('order'), kind: get('kind'), number: get('number'), outcome: 'rejected' };
      rows.push(row);
      const reject = (reason: string) => { row.reason = reason; };
      const kind = parseOrderDocumentKind(row.kind);
      if (!row.order) { reject('не указан номер заказа'); continue; }
      if (!kind) { reject(`неизвестный вид документа «${printable(row.kind)}» (УПД, товарная накладная, счёт-фактура, акт …)`); continue; }
      if (!row.number) { reject('не указан номер документа'); continue; }
      const dateText = get('date');
      const date = dateText ? parseDate(dateText) : null;
      if (date === undefined) { reject(`дата «${printable(dateText)}» не распознана (ДД.ММ.ГГГГ или ГГГГ-ММ-ДД)`); continue; }
      const amountText = get('amount').replace(/\s/g, '').replace(',', '.');
      if (amountText && !/^-?[0-9]{1,15}(\.[0-9]{1,2})?$/.test(amountText)) { reject(`сумма «${printable(get('amount'))}» не число`); continue; }
      const fileRaw = get('file');
      const fileName = safeName(fileRaw.replace(/^\.\//, ''));
      if (!fileRaw) { reject('не указан файл'); continue; }
      if (!fileName) { reject(`недопустимое имя файла «${printable(fileRaw)}» (путь за пределы архива)`); continue; }
      const content = archive.files.get(fileName.toLowerCase());
      named.add(fileName.toLowerCase());
      if (!content) { reject(`файла «${printable(fileName)}» нет в архиве`); continue; }
      try {
        sniffUpload(content, fileName, { what: 'Файл', allowed: ['application/pdf'], maxBytes: limits.maxFileBytes });
      } catch (e) {
        if (e instanceof FileRefused) { reject(e.message); continue; }
        throw e;
      }
      const order = (await sql<{ id: number; number: string }>`
        SELECT id, number FROM orders WHERE number = ${row.order} OR erp_number = ${row.order} ORDER BY (number = ${row.order}) DESC, id DESC LIMIT 1`.execute(trx)).rows[0];
      if (!order) { reject(`заказ «${printable(row.order)}» не найден`); continue; }
      const file = await storeFile(trx, dataDir, content, 'application/pdf');
      const existing = (await sql<{ id: number; sha256: string | null }>`
        SELECT id, sha256 FROM order_documents WHERE order_id = ${order.id} AND kind = ${kind} AND number = ${row.number} ORDER BY id LIMIT 1 FOR UPDATE`.execute(trx)).rows[0];
      const nice = `${documentKindName(kind)} № ${row.number}.pdf`;
      let docId: number;
      if (existing && existing.sha256 === file.sha256) {
        row.outcome = 'unchanged';
        row.documentId = Number(existing.id);
        continue;
      } else if (existing) {
        // Known from the ERP's data (or an earlier file): the file is attached or replaced.
        await sql`UPDATE order_documents SET sha256 = ${file.sha256}, file_name = ${nice}, content_type = 'application/pdf', size_bytes = ${file.sizeBytes},
          date = coalesce(${date}::date, date), amount = coalesce(${amountText || null}::numeric, amount), source = ${source},
          updated_at = now() WHERE id = ${existing.id}`.execute(trx);
        docId = Number(existing.id);
      } else {
        const r = await sql<{ id: number }>`INSERT INTO order_documents (order_id, kind, number, date, amount, file_name, sha256, content_type, size_bytes, source)
          VALUES (${order.id}, ${kind}, ${row.number}, ${date}::date, ${amountText || null}::numeric, ${nice}, ${file.sha256}, 'application/pdf', ${file.sizeBytes}, ${source}) RETURNING id`.execute(trx);
        docId = Number(r.rows[0]!.id);
      }
      row.outcome = 'accepted';
      row.documentId = docId;
      accepted.push(docId);
    }
    await documentNoticesIn(trx, { ids: accepted });
    const warnings = [...archive.warnings, ...[...archive.files.keys()].filter((n) => !named.has(n)).map((n) => `файл «${printable(n)}» в архиве не упомянут в manifest.csv и пропущен`)];
    const count = (o: BatchRow['outcome']) => rows.filter((r) => r.outcome === o).length;
    const b = await trx.insertInto('document_batches').values({
      source: input.source, file_name: input.fileName.slice(0, 255), sha256, accepted: count('accepted'), rejected: count('rejected'),
      rows: JSON.stringify(rows), error: warnings.length ? warnings.join('; ').slice(0, 4000) : null,
    }).returning('id').executeTakeFirstOrThrow();
    return { id: Number(b.id), accepted: count('accepted'), unchanged: count('unchanged'), rejected: count('rejected'), rows, warnings };
  });
}
