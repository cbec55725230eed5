// Closing documents through a flow (connector file.documents, target orderDocuments; ops/flows/order-documents.yaml)
// on the real PostgreSQL, Redis, workers and file store: a zip of PDFs with manifest.csv is received into the
// inbox, read into a run, and merged. Good lines become the orders' documents with their files (found by the
// portal's or the ERP's order number; a document 1C reported without a file gets its file and keeps its date);
// each bad line is a reject with its position and reason; the buyers get one "new document" e-mail per file;
// the same payload again changes nothing; a replaced file is announced again; an archive that cannot be taken
// fails its run with the reason and changes nothing; a dry run reads it without writing a file.
import { createHash } from 'node:crypto';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { registry } from '../helpers/registry.ts';
import { filePath } from '../../src/backoffice/files.ts';
import { listDocuments } from '../../src/backoffice/documents.ts';
import { dryRun } from '../../src/pipeline/dry-run.ts';

let tp: TestPipeline;
const ids: Record<string, number> = {};

async function zip(entries: Array<[string, Buffer | string]>): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const [name, content] of entries) z.addBuffer(Buffer.isBuffer(content) ? content : Buffer.from(content), name);
  z.end();
  const parts: Buffer[] = [];
  for await (const c of z.outputStream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const pdf = (text: string): Buffer => Buffer.from(`%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% ${text}\ntrailer << /Root 1 0 R >>\n%%EOF\n`, 'latin1');
const EXE = Buffer.concat([Buffer.from('MZ\x90\x00', 'latin1'), Buffer.alloc(100, 1)]);
const SCRIPTED = Buffer.from('%PDF-1.4\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj\n%%EOF\n', 'latin1');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const docs = async () => (await tp.db.db.selectFrom('order_documents').selectAll().orderBy('id').execute())
  .map((d) => [d.order_id, d.kind, d.number, d.date === null ? null : new Date(d.date).toISOString().slice(0, 10), d.amount, d.file_name, d.sha256, d.source]);
const mails = async () => (await tp.db.db.selectFrom('email_outbox').select(['to_address', 'subject']).where('kind', '=', 'document-new').orderBy('id').execute())
  .map((m) => `${m.to_address} ${m.subject}`);
const rejects = async (runId: number) => (await tp.db.db.selectFrom('rejects').select(['file_name', 'line', 'path', 'field', 'rule', 'reason']).where('run_id', '=', runId).orderBy('id').execute())
  .map((r) => `${r.file_name}${r.line !== null ? `:${r.line}` : ''} [${r.path ?? ''}] ${r.field}/${r.rule}: ${r.reason}`);

beforeAll(async () => {
  tp = await createTestPipeline('orderdocs');
  await tp.applyFlowFile('ops/flows/order-documents.yaml');
  const db = tp.db.db;
  const c = await db.insertInto('clients').values({ code: 'C1', name: 'Ромашка' }).returning('id').executeTakeFirstOrThrow();
  const le = await db.insertInto('legal_entities').values({ code: 'LE1', name: 'ООО «Ромашка»', client_id: c.id, inn: '7701234567' }).returning('id').executeTakeFirstOrThrow();
  const p = await db.insertInto('contacts').values({ code: 'P1', name: 'Иван Иванов', client_id: c.id, email: 'ivan@romashka.example' }).returning('id').executeTakeFirstOrThrow();
  for (const n of ['M-000101', 'M-000102']) {
    const o = await db.insertInto('orders').values({ number: n, client_id: c.id, legal_entity_id: le.id, contact_id: p.id, currency: 'RUB', total: '1000.00', erp_number: `ЗК-${n.slice(-3)}` })
      .returning('id').executeTakeFirstOrThrow();
    ids[n] = Number(o.id);
  }
  Object.assign(ids, { client: Number(c.id), contact: Number(p.id) });
  // 1C reported a waybill of order 102 as data (the sale exchange): the archive brings its PDF.
  await db.insertInto('order_documents').values({ order_id: ids['M-000102']!, kind: 'waybill', number: 'РН-7', date: '2026-12-01', amount: '500.00', source: 'onec-sale:default' }).execute();
}, 60_000);
afterAll(async () => {
  await tp?.close();
});

describe('closing documents through the order-documents flow', () => {
  const upd = pdf('UPD 15');
  const sf = pdf('SF 16');
  const waybill = pdf('waybill 7');
  let content: Buffer;
  let firstRun: number;

  it('merges the good lines with their files, rejects each bad one with its line and reason, and tells the buyer once per file', async () => {
    const manifest = [
      'заказ;вид;номер;дата;сумма;файл',
      'M-000101;УПД;УПД-15;05.12.2026;1 000,00;upd-15.pdf',
      'ЗК-101;Счёт-фактура;СФ-16;2026-12-05;1000;docs/sf-16.pdf',
      'M-000102;ТОРГ-12;РН-7;;;waybill-7.pdf',
      'M-999999;УПД;УПД-99;05.12.2026;10;upd-15.pdf',
      'M-000101;справка;X-1;05.12.2026;10;upd-15.pdf',
      'M-000101;акт;А-1;05.12.2026;10;act-1.pdf',
      'M-000101;акт;А-2;05.12.2026;10;../../etc/passwd',
      'M-000101;акт;А-3;05.12.2026;10;setup.pdf',
      'M-000101;акт;А-4;31.02.2026;10;upd-15.pdf',
      'M-000101;акт;А-5;05.12.2026;10;scripted.pdf',
    ].join('\r\n');
    content = await zip([['manifest.csv', manifest], ['upd-15.pdf', upd], ['docs/sf-16.pdf', sf], ['waybill-7.pdf', waybill], ['setup.pdf', EXE], ['scripted.pdf', SCRIPTED], ['extra.pdf', pdf('y')]]);
    const run = await tp.ingest('order-documents', content, 'closing.zip');
    firstRun = run.id;
    expect(run.state).toBe('done');
    expect(run.rows).toMatchObject({ inserted: 2, updated: 1, rejected: 8 });
    expect(await rejects(run.id)).toEqual([
      'closing.zip:6 [manifest.csv] kind/enum: kind: "справка" is not one of: invoice, payment, shipment, upd, waybill, invoice-facture, act',
      'closing.zip:7 [manifest.csv] file/file: file "act-1.pdf" is not in the archive',
      'closing.zip:8 [manifest.csv] file/file: file name "../../etc/passwd" leaves the archive (absolute path or ..)',
      'closing.zip:9 [manifest.csv] file/file: setup.pdf: the file is an executable by its content, expected PDF (a name or extension does not change the content)',
      'closing.zip:10 [manifest.csv] date/date: date: "31.02.2026" is not a date (iso, DD.MM.YYYY, YYYYMMDD) (transform date)',
      'closing.zip:11 [manifest.csv] file/file: scripted.pdf: the PDF carries active content (JavaScript, launch actions or embedded files)',
      'closing.zip [extra.pdf] file/manifest: file "extra.pdf" is in the archive but no line of manifest.csv names it',
      "closing.zip:5 [manifest.csv] order/reference: unknown order 'M-999999' (neither a portal order number nor an ERP number of one)",
    ]);
    expect(await docs()).toEqual([
      // The 1C document got its file; the manifest's empty date and amount kept 1C's.
      [ids['M-000102'], 'waybill', 'РН-7', '2026-12-01', '500.00', 'waybill-7.pdf', sha(waybill), 'flow'],
      [ids['M-000101'], 'upd', 'УПД-15', '2026-12-05', '1000.00', 'upd-15.pdf', sha(upd), 'flow'],
      // Found by the ERP's number of the order.
      [ids['M-000101'], 'invoice-facture', 'СФ-16', '2026-12-05', '1000.00', 'sf-16.pdf', sha(sf), 'flow'],
    ]);
    expect(await readFile(filePath(tp.dataDir, sha(upd)))).toEqual(upd);
    // Nothing of a refused file is kept.
    await expect(readFile(filePath(tp.dataDir, sha(EXE)))).rejects.toThrow();
    expect((await mails()).sort()).toEqual([
      'ivan@romashka.example Заказ M-000101: Счёт-фактура № СФ-16',
      'ivan@romashka.example Заказ M-000101: УПД № УПД-15',
      'ivan@romashka.example Заказ M-000102: Товарная накладная № РН-7',
    ]);
    const seen = await listDocuments(tp.db.db, { clientId: ids.client!, contactId: ids.contact! }, { kind: 'closing' });
    expect(seen.map((d) => `${d.kindName} № ${d.number}`).sort()).toEqual(['Счёт-фактура № СФ-16', 'Товарная накладная № РН-7', 'УПД № УПД-15']);
  });

  it('the same archive again changes nothing and writes no e-mail', async () => {
    const run = await tp.ingest('order-documents', content, 'closing-again.zip');
    expect(run.state).toBe('done');
    expect(run.rows).toMatchObject({ inserted: 0, updated: 0, unchanged: 3 });
    expect(await mails()).toHaveLength(3);
    expect(run.id).not.toBe(firstRun);
  });

  it('a corrected file replaces the old one and is announced again', async () => {
    const upd2 = pdf('UPD 15 corrected');
    const run = await tp.ingest('order-documents', await zip([['manifest.csv', 'order,kind,number,file\nM-000101,upd,УПД-15,upd-15-v2.pdf'], ['upd-15-v2.pdf', upd2]]), 'fix.zip');
    expect(run.rows).toMatchObject({ inserted: 0, updated: 1, rejected: 0 });
    const row = (await docs()).find((d) => d[2] === 'УПД-15')!;
    // English headers, no date or amount in this manifest: those stay.
    expect(row).toEqual([ids['M-000101'], 'upd', 'УПД-15', '2026-12-05', '1000.00', 'upd-15-v2.pdf', sha(upd2), 'flow']);
    expect((await mails()).filter((m) => m.includes('УПД-15'))).toHaveLength(2);
  });

  it('an archive that cannot be taken fails its run with the reason and changes nothing', async () => {
    const before = await docs();
    const bomb = await zip([['manifest.csv', 'заказ;вид;номер;файл\nM-000101;акт;Б-1;big.pdf'], ['big.pdf', Buffer.concat([pdf('bomb'), Buffer.alloc(15 * 1024 * 1024, 0)])]]);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['bomb.zip', bomb, /bomb\.zip: entry big\.pdf would expand \d+ times \(limit 200\): refused as a zip bomb/],
      ['x.zip', Buffer.from('not a zip at all'), /x\.zip: not a zip archive, or truncated/],
      ['y.zip', await zip([['upd.pdf', upd]]), /y\.zip: the archive holds no manifest\.csv/],
      ['z.zip', await zip([['manifest.csv', 'заказ;вид;номер\nM-000101;акт;1'], ['upd.pdf', upd]]), /z\.zip\/manifest\.csv:1: the manifest has no file column/],
    ];
    for (const [name, bytes, message] of cases) {
      const run = await tp.ingest('order-documents', bytes, name);
      expect(run.state, name).toBe('failed');
      const r = await tp.db.db.selectFrom('runs').select('error').where('id', '=', run.id).executeTakeFirstOrThrow();
      expect(r.error, name).toMatch(message);
    }
    expect(await docs()).toEqual(before);
  });

  it('a dry run reads the archive, counts and rejects without storing a file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'magistral-docdry-'));
    try {
      const fresh = pdf('dry only');
      const file = path.join(dir, 'dry.zip');
      await writeFile(file, await zip([['manifest.csv', 'заказ;вид;номер;файл\nM-000101;акт;Д-1;a.pdf\nM-000101;акт;Д-2;missing.pdf'], ['a.pdf', fresh]]));
      const r = await dryRun({ registry, connector: 'file.documents', files: [file], mappings: ['file/order-documents.yaml'] });
      expect({ counts: r.counts, rejects: r.rejects, errors: r.errors }).toEqual({ counts: { orderDocuments: 1 }, rejects: 1, errors: [] });
      expect(r.samples.map((s) => s.reason)).toEqual(['file "missing.pdf" is not in the archive']);
      await expect(readFile(filePath(tp.dataDir, sha(fresh)))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
