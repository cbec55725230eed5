// Closing documents received as a zip (PDFs + manifest.csv), on the real PostgreSQL and file store:
// good lines become the orders' documents with their PDFs and a 'document-new' e-mail; bad lines (an
// unknown order or kind, a missing file, a name climbing out of the archive, an executable named .pdf,
// a bad date) are rejected with their reasons while the good ones stay; the same batch again changes
// nothing; a zip bomb, a file that is not a zip and a zip without a manifest are refused whole.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { registry } from '../helpers/registry.ts';
import { migrate } from '../../src/db/index.ts';
import { BatchRefused, importDocumentBatch } from '../../src/backoffice/document-batches.ts';
import { filePath } from '../../src/backoffice/files.ts';
import { listDocuments } from '../../src/backoffice/documents.ts';

let db: TestDb;
let dataDir: string;
const ids: Record<string, number> = {};

async function zip(entries: Array<[string, Buffer | string]>, opts: { compress?: boolean } = {}): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const [name, content] of entries) z.addBuffer(Buffer.isBuffer(content) ? content : Buffer.from(content), name, { compress: opts.compress ?? true });
  z.end();
  const parts: Buffer[] = [];
  for await (const c of z.outputStream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** yazl refuses `..` in names (rightly): the name is written harmless and patched in the bytes, as a hostile tool would. */
const climbing = (b: Buffer): Buffer => Buffer.from(b.toString('latin1').replaceAll('zz/escape.pdf', '../escape.pdf'), 'latin1');

const pdf = (text: string): Buffer => Buffer.from(`%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% ${text}\ntrailer << /Root 1 0 R >>\n%%EOF\n`, 'latin1');
const EXE = Buffer.concat([Buffer.from('MZ\x90\x00', 'latin1'), Buffer.alloc(100, 1)]);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  db = await createTestDb('docbatch');
  await migrate(db.db, registry.migrationSets());
  dataDir = await mkdtemp(path.join(tmpdir(), 'magistral-docbatch-'));
  const c = await db.db.insertInto('clients').values({ code: 'C1', name: 'Ромашка' }).returning('id').executeTakeFirstOrThrow();
  const le = await db.db.insertInto('legal_entities').values({ code: 'LE1', name: 'ООО «Ромашка»', client_id: c.id, inn: '7701234567' }).returning('id').executeTakeFirstOrThrow();
  const p = await db.db.insertInto('contacts').values({ code: 'P1', name: 'Иван Иванов', client_id: c.id, email: 'ivan@romashka.example' }).returning('id').executeTakeFirstOrThrow();
  await db.db.insertInto('contact_legal_entities').values({ contact_id: p.id, legal_entity_id: le.id, role: 'head', flow_id: 0, run_id: 0 } as never).execute();
  for (const n of ['M-000101', 'M-000102']) {
    const o = await db.db.insertInto('orders').values({ number: n, client_id: c.id, legal_entity_id: le.id, contact_id: p.id, currency: 'RUB', total: '1000.00', erp_number: `ЗК-${n.slice(-3)}` })
      .returning('id').executeTakeFirstOrThrow();
    ids[n] = Number(o.id);
  }
  Object.assign(ids, { client: Number(c.id), contact: Number(p.id) });
  // 1C told us of a waybill of order 102 as data (no file yet): the batch brings its PDF.
  await db.db.insertInto('order_documents').values({ order_id: ids['M-000102']!, kind: 'waybill', number: 'РН-7', date: '2026-12-01', source: 'onec-sale:default' }).execute();
});
afterAll(async () => {
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('closing documents from a zip with a manifest', () => {
  const upd = pdf('UPD 15');
  const sf = pdf('SF 16');
  const waybill = pdf('waybill 7');
  let content: Buffer;

  it('keeps the good lines with their files and rejects each bad one with its reason', async () => {
    const manifest = [
      'заказ;вид;номер;дата;сумма;файл',
      'M-000101;УПД;УПД-15;05.12.2026;1 000,00;upd-15.pdf',
      'ЗК-101;счет-фактура;СФ-16;2026-12-05;1000;docs/sf-16.pdf',
      'M-000102;ТОРГ-12;РН-7;01.12.2026;;waybill-7.pdf',
      'M-999999;УПД;УПД-99;05.12.2026;10;upd-15.pdf',
      'M-000101;накладная-ХЗ;X-1;05.12.2026;10;upd-15.pdf',
      'M-000101;акт;А-1;05.12.2026;10;act-1.pdf',
      'M-000101;акт;А-2;05.12.2026;10;../../etc/passwd',
      'M-000101;акт;А-3;05.12.2026;10;setup.pdf',
      'M-000101;акт;А-4;31.02.2026;10;upd-15.pdf',
    ].join('\r\n');
    content = await zip([['manifest.csv', manifest], ['upd-15.pdf', upd], ['docs/sf-16.pdf', sf], ['waybill-7.pdf', waybill], ['setup.pdf', EXE], ['extra.pdf', pdf('y')]]);
    const r = await importDocumentBatch(db.db, dataDir, { source: 'edo', fileName: 'closing.zip', content });
    expect({ accepted: r.accepted, unchanged: r.unchanged, rejected: r.rejected }).toEqual({ accepted: 3, unchanged: 0, rejected: 6 });
    expect(r.rows.filter((x) => x.outcome === 'rejected').map((x) => [x.line, x.reason])).toEqual([
      [5, 'заказ «M-999999» не найден'],
      [6, 'неизвестный вид документа «накладная-ХЗ» (УПД, товарная накладная, счёт-фактура, акт …)'],
      [7, 'файла «act-1.pdf» нет в архиве'],
      [8, 'недопустимое имя файла «../../etc/passwd» (путь за пределы архива)'],
      [9, 'Файл «setup.pdf» не принят: по содержимому это исполняемая программа Windows (EXE/DLL), а нужен файл PDF (расширение в имени файла не меняет его содержимое).'],
      [10, 'дата «31.02.2026» не распознана (ДД.ММ.ГГГГ или ГГГГ-ММ-ДД)'],
    ]);
    expect(r.warnings).toEqual(['файл «extra.pdf» в архиве не упомянут в manifest.csv и пропущен']);

    const docs = await db.db.selectFrom('order_documents').selectAll().orderBy('id').execute();
    expect(docs.map((d) => [d.order_id, d.kind, d.number, d.date === null ? null : new Date(d.date).toISOString().slice(0, 10), d.amount, d.sha256, d.source])).toEqual([
      [ids['M-000102'], 'waybill', 'РН-7', '2026-12-01', null, sha(waybill), 'file:edo'],
      [ids['M-000101'], 'upd', 'УПД-15', '2026-12-05', '1000.00', sha(upd), 'file:edo'],
      [ids['M-000101'], 'invoice-facture', 'СФ-16', '2026-12-05', '1000.00', sha(sf), 'file:edo'],
    ]);
    expect(await readFile(filePath(dataDir, sha(upd)))).toEqual(upd);
    const mails = await db.db.selectFrom('email_outbox').select(['to_address', 'subject']).where('kind', '=', 'document-new').orderBy('id').execute();
    expect(mails.map((m) => `${m.to_address} ${m.subject}`).sort()).toEqual([
      'ivan@romashka.example Заказ M-000101: Счёт-фактура № СФ-16',
      'ivan@romashka.example Заказ M-000101: УПД № УПД-15',
      'ivan@romashka.example Заказ M-000102: Товарная накладная № РН-7',
    ]);
    expect(mails).toHaveLength(3);
    const batch = await db.db.selectFrom('document_batches').selectAll().executeTakeFirstOrThrow();
    expect(batch).toMatchObject({ source: 'edo', file_name: 'closing.zip', accepted: 3, rejected: 6, sha256: sha(content) });
    // The contact sees them in its documents, with Russian kind names.
    const seen = await listDocuments(db.db, { clientId: ids.client!, contactId: ids.contact! }, { kind: 'closing' });
    expect(seen.map((d) => `${d.kindName} № ${d.number}`).sort()).toEqual(['Счёт-фактура № СФ-16', 'Товарная накладная № РН-7', 'УПД № УПД-15']);
  });

  it('the same batch again changes nothing and writes no e-mail', async () => {
    const r = await importDocumentBatch(db.db, dataDir, { source: 'edo', fileName: 'closing.zip', content });
    expect({ accepted: r.accepted, unchanged: r.unchanged, rejected: r.rejected }).toEqual({ accepted: 0, unchanged: 3, rejected: 6 });
    expect(await db.db.selectFrom('order_documents').select('id').execute()).toHaveLength(3);
    expect(await db.db.selectFrom('email_outbox').select('id').where('kind', '=', 'document-new').execute()).toHaveLength(3);
  });

  it('refuses a zip bomb, an archive with a name climbing out of it, a file that is not a zip, and a zip without manifest.csv — keeping nothing of them', async () => {
    const before = await db.db.selectFrom('order_documents').select('id').execute();
    const hostile = climbing(await zip([['manifest.csv', 'заказ;вид;номер;дата;сумма;файл\nM-000101;акт;Т-1;;;upd.pdf'], ['upd.pdf', pdf('t')], ['zz/escape.pdf', pdf('x')]]));
    await expect(importDocumentBatch(db.db, dataDir, { source: 'edo', fileName: 'hostile.zip', content: hostile }))
      .rejects.toThrow('в архиве файл с недопустимым именем «../escape.pdf» (путь за пределы архива): архив отклонён');
    const bomb = await zip([['manifest.csv', 'заказ;вид;номер;дата;сумма;файл\nM-000101;акт;Б-1;;;big.pdf'], ['big.pdf', Buffer.concat([pdf('bomb'), Buffer.alloc(15 * 1024 * 1024, 0)])]]);
    expect(bomb.length).toBeLessThan(100 * 1024);
    await expect(importDocumentBatch(db.db, dataDir, { source: 'edo', fileName: 'bomb.zip', content: bomb })).rejects.toThrow(/zip-бомба/);
    await expect(importDocumentBatch(db.db, dataDir, { source: 'edo', fileName: 'x.zip', content: Buffer.from('not a zip at all') })).rejects.toThrow(BatchRefused);
    await expect(importDocumentBatch(db.db, dataDir, { source: 'edo', fileName: 'y.zip', content: await zip([['upd.pdf', upd]]) })).rejects.toThrow(/нет manifest\.csv/);
    expect(await db.db.selectFrom('order_documents').select('id').execute()).toEqual(before);
    const refused = await db.db.selectFrom('document_batches').select(['file_name', 'error']).where('accepted', '=', 0).where('rejected', '=', 0).orderBy('id').execute();
    expect(refused.map((b) => b.file_name)).toEqual(['hostile.zip', 'bomb.zip', 'x.zip', 'y.zip']);
    expect(refused[1]!.error).toMatch(/zip-бомба/);
  });
});
