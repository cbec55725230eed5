// The sap.idoc connector: the IDoc-XML reader over the fixtures of test/fixtures/sap (built from SAP's
// documented segments), SOAP-wrapped IDocs, payload errors with IDoc number / segment path / line /
// column, XXE, bounded memory on a generated 300 MB COND_A05 file, the dry-run report, and the fixtures
// through the real pipeline (PostgreSQL, Redis, workers) with the example flows of ops/flows/sap-idoc.yaml:
// products, units, clients, legal entities, contacts, stock, and price periods read at instants.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idocConnector } from '../../connectors/sap/idoc/connector.ts';
import { readIdocs, type IdocCounts, type IdocReaderOptions } from '../../connectors/sap/idoc/reader.ts';
import { PayloadError, type SourceRecord } from '../../src/port/index.ts';
import { dryRun, dryRunJson } from '../../src/pipeline/dry-run.ts';
import { compileMapping, loadMapping } from '../../src/mapping/index.ts';
import { listRejects } from '../../src/pipeline/runs.ts';
import { priceAtSql } from '../../src/portal/price-at.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { registry } from '../helpers/registry.ts';
import { generateConditionsFile } from '../fixtures/sap/generate-cond-a.ts';

const run = promisify(execFile);
const FIXTURES = path.join(REPO_DIR, 'test/fixtures/sap');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');
const dir = mkdtempSync(path.join(tmpdir(), 'sap-idoc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Reads a text through the reader in chunks of `chunk` bytes (so tokens straddle chunk ends). */
async function read(text: string | Buffer, o: Partial<IdocReaderOptions> = {}, chunk = 977): Promise<{ records: SourceRecord[]; counts: IdocCounts }> {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  const it = readIdocs(Readable.from(parts), { fileName: 'in.xml', ...o });
  const records: SourceRecord[] = [];
  let step = await it.next();
  while (!step.done) {
    records.push(...step.value);
    step = await it.next();
  }
  return { records, counts: step.value };
}

async function payloadError(text: string, o: Partial<IdocReaderOptions> = {}): Promise<PayloadError> {
  const e = await read(text, o).then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(PayloadError);
  return e as PayloadError;
}

/** 1-based line and column of the first occurrence of `needle` in `text`. */
function at(text: string, needle: string): { line: number; column: number } {
  const i = text.indexOf(needle);
  expect(i).toBeGreaterThanOrEqual(0);
  const before = text.slice(0, i).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

const CONTROL = (docnum: string, idoctyp: string, mestyp: string) => ({
  DOCNUM: docnum, MESTYP: mestyp, IDOCTYP: idoctyp, CIMTYP: '', SNDPRN: 'ERPCLNT100', SNDPRT: 'LS', CREDAT: '20260105', CRETIM: '140115', SERIAL: '20260105140115',
});

describe('IDoc-XML reader', () => {
  it('COND_A05: one record per E1KONP with its key, validity, item and scales; line and path with DOCNUM', async () => {
    const { records, counts } = await read(fixture('cond_a05.xml'));
    expect(counts).toEqual({ idocs: 5, products: 0, prices: 10, counterparties: 0, stock: 0, orders: 0 });
    expect(records.map((r) => `${r.kind} ${r.line} ${r.path}`)).toEqual([
      'cond_a 46 IDOC[DOCNUM=0000000000100001]/E1KOMG[1]/E1KONH[1]/E1KONP[1]',
      'cond_a 68 IDOC[DOCNUM=0000000000100001]/E1KOMG[1]/E1KONH[2]/E1KONP[1]',
      'cond_a 124 IDOC[DOCNUM=0000000000100002]/E1KOMG[1]/E1KONH[1]/E1KONP[1]',
      'cond_a 180 IDOC[DOCNUM=0000000000100003]/E1KOMG[1]/E1KONH[1]/E1KONP[1]',
      'cond_a 248 IDOC[DOCNUM=0000000000100004]/E1KOMG[1]/E1KONH[1]/E1KONP[1]',
      'cond_a 281 IDOC[DOCNUM=0000000000100004]/E1KOMG[2]/E1KONH[1]/E1KONP[1]',
      'cond_a 337 IDOC[DOCNUM=0000000000100005]/E1KOMG[1]/E1KONH[1]/E1KONP[1]',
      'cond_a 370 IDOC[DOCNUM=0000000000100005]/E1KOMG[2]/E1KONH[1]/E1KONP[1]',
      'cond_a 403 IDOC[DOCNUM=0000000000100005]/E1KOMG[3]/E1KONH[1]/E1KONP[1]',
      'cond_a 435 IDOC[DOCNUM=0000000000100005]/E1KOMG[4]/E1KONH[1]/E1KONP[1]',
    ]);
    // The line is the E1KONP's own.
    expect(fixture('cond_a05.xml').split('\n')[45]).toBe('          <E1KONP SEGMENT="1">');
    expect(records[3]!.data).toEqual({
      ...CONTROL('0000000000100003', 'COND_A05', 'COND_A'),
      KVEWE: 'A', KOTABNR: '032', KAPPL: 'V', KSCHL: 'PR00', VAKEY: '10001002          000000000000100003', VKORG: '1000', VTWEG: '10', PLTYP: '02', MATNR: '000000000000100003',
      KNUMH: '0000500004', KOSRT: '', DATAB: '20260101', DATBI: '99991231',
      STFKZ: 'A', KZBZG: 'C', KSTBM: '', KONMS: 'KAR', KRECH: 'C', KBETR: '1000.00', KONWA: 'RUB', KPEIN: '1', KMEIN: 'KAR', KUMZA: '1', KUMNE: '1', MEINS: 'KAR', LOEVM_KO: '',
      SCALES: '1.000:1000.00;10.000:950.00;100.000:900.00',
      PRICE_KEY: 'PR00/1000/10/02',
    });
    const pick = (r: SourceRecord) => [r.data.MATNR, r.data.PRICE_KEY, r.data.KBETR, r.data.KPEIN, r.data.KMEIN, r.data.DATAB, r.data.DATBI, r.data.LOEVM_KO, r.data.SCALES].join(' ');
    expect(records.map(pick)).toEqual([
      '000000000000100001 PR00/1000/10/01 125.50 1 ST 20260101 20261231  ',
      '000000000000100001 PR00/1000/10/01 130.00 1 ST 20270101 99991231  ',
      '000000000000100002 PR00/1000/10/01 1250.00 100 ST 20260101 99991231  ',
      '000000000000100003 PR00/1000/10/02 1000.00 1 KAR 20260101 99991231  1.000:1000.00;10.000:950.00;100.000:900.00',
      '000000000000100001 PR00/C/0000100001 119.00 1 ST 20260101 99991231  ',
      '000000000000100002 PR00/1000/10/01 11.00 1 ST 20250101 20251231 X ',
      '000000000000100001 PR00/1000/10/02 12,3a 1 ST 20260101 99991231  ',
      '000000000000100002 PR00/1000/10/02 10.00 0 ST 20260101 99991231  ',
      '000000000000100003 PR00/1000/10/01 10.00 1 ST 20261231 20260101  ',
      '000000000000100003 PR00/1000/20 10.00 1 XYZ 20260101 99991231  ',
    ]);
  });

  it('MATMAS05: materials with the Russian description preferred, alternative units without the base unit', async () => {
    const { records, counts } = await read(fixture('matmas05.xml'));
    expect(counts).toEqual({ idocs: 3, products: 3, prices: 0, counterparties: 0, stock: 0, orders: 0 });
    expect(records.map((r) => `${r.kind} ${r.line} ${r.path}`)).toEqual([
      'matmas.units 77 IDOC[DOCNUM=0000000000200001]/E1MARAM[1]/E1MARMM[2]',
      'matmas.units 85 IDOC[DOCNUM=0000000000200001]/E1MARAM[1]/E1MARMM[3]',
      'matmas 31 IDOC[DOCNUM=0000000000200001]/E1MARAM[1]',
      'matmas.units 159 IDOC[DOCNUM=0000000000200002]/E1MARAM[1]/E1MARMM[2]',
      'matmas 129 IDOC[DOCNUM=0000000000200002]/E1MARAM[1]',
      'matmas.units 226 IDOC[DOCNUM=0000000000200003]/E1MARAM[1]/E1MARMM[2]',
      'matmas 196 IDOC[DOCNUM=0000000000200003]/E1MARAM[1]',
    ]);
    expect(records[2]!.data).toEqual({
      ...CONTROL('0000000000200001', 'MATMAS05', 'MATMAS'),
      // The first sales area (E1MVKEM), then the material's own fields.
      MSGFN: '005', VKORG: '1000', VTWEG: '10', DWERK: '1000', VRKME: '',
      MATNR: '000000000000100001', ERSDA: '20250110', MTART: 'FERT', MBRSH: 'M', MATKL: '01010', BISMT: '', MEINS: 'ST', EAN11: '4601234567893', NUMTP: 'HE', LVORM: '',
      MAKTX: 'Винт М6 с шестигранной головкой', MAKTX_RU: 'Винт М6 с шестигранной головкой', MAKTX_EN: 'Hex screw M6', MAKTX_DE: 'Sechskantschraube M6',
      SALES_AREAS: '1000/10;1000/20',
    });
    expect(records[4]!.data).toMatchObject({ MATNR: '000000000000100002', MAKTX: 'Cement M500, bag', MAKTX_RU: '', MAKTX_EN: 'Cement M500, bag', MEINS: 'KG', LVORM: 'X' });
    expect(records[0]!.data).toEqual({
      ...CONTROL('0000000000200001', 'MATMAS05', 'MATMAS'),
      MATNR: '000000000000100001', MEINS: 'ST', MSGFN: '005', MEINH: 'KAR', UMREZ: '12', UMREN: '1', EAN11: '14601234567890', NUMTP: 'HE',
    });
    // A unit without its own barcode does not take the material's.
    expect(records[1]!.data.EAN11).toBeUndefined();
    expect(records[3]!.data).toMatchObject({ MATNR: '000000000000100002', MEINH: 'G', UMREZ: '1', UMREN: '1000' });
  });

  it('DEBMAS07: customer with manager and sales areas, legal entity with tax numbers and bank, contact person', async () => {
    const { records, counts } = await read(fixture('debmas07.xml'));
    expect(counts).toEqual({ idocs: 2, products: 0, prices: 0, counterparties: 2, stock: 0, orders: 0 });
    expect(records.map((r) => `${r.kind} ${r.line} ${r.path}`)).toEqual([
      'debmas.contacts 80 IDOC[DOCNUM=0000000000300001]/E1KNA1M[1]/E1KNVKM[1]',
      'debmas 31 IDOC[DOCNUM=0000000000300001]/E1KNA1M[1]',
      'debmas.legal 31 IDOC[DOCNUM=0000000000300001]/E1KNA1M[1]',
      'debmas 113 IDOC[DOCNUM=0000000000300002]/E1KNA1M[1]',
      'debmas.legal 113 IDOC[DOCNUM=0000000000300002]/E1KNA1M[1]',
    ]);
    const customer = {
      ...CONTROL('0000000000300001', 'DEBMAS07', 'DEBMAS'),
      MSGFN: '005', KUNNR: '0000100001', KTOKD: '0001', LAND1: 'RU', NAME1: 'ООО «Ромашка»', NAME2: 'Торговый дом', ORT01: 'Москва', PSTLZ: '101000',
      STRAS: 'ул. Примерная, 1', TELF1: '+7 495 000-00-01', SPRAS: 'R', STCD1: '7701234560', STCD2: '00000001', STCD3: '770101001', LOEVM: '',
      NAME: 'ООО «Ромашка» Торговый дом', NAME_FULL: 'ООО «Ромашка» Торговый дом', ADDRESS: '101000, Москва, ул. Примерная, 1', BLOCKED: 'false',
    };
    expect(records[1]!.data).toEqual({
      ...customer,
      VKORG: '1000', VTWEG: '10', SPART: '00', KDGRP: '01', WAERS: 'RUB', PLTYP: '01', KALKS: '1',
      SALES_AREAS: '1000/10/00', MANAGER: '00000123',
    });
    // The bank's own ORT01 does not overwrite the customer's city.
    expect(records[2]!.data).toEqual({ ...customer, BANKS: 'RU', BANKL: '049999001', BANKN: '40702810000000000001', BANKA: 'АО «Пример-Банк»' });
    expect(records[0]!.data).toEqual({
      ...CONTROL('0000000000300001', 'DEBMAS07', 'DEBMAS'),
      KUNNR: '0000100001', MSGFN: '005', PARNR: '0000000501', NAMEV: 'Иван', NAME1: 'Петров', ABTNR: '0001', PAFKT: '01', TELF1: '+7 495 000-00-02', NAME: 'Иван Петров',
    });
    expect(records[3]!.data).toMatchObject({ KUNNR: '0000100002', BLOCKED: 'true', MANAGER: '00000124', LOEVM: 'X', PLTYP: '02' });
  });

  it('LOISTD01: stock per plant, or per plant/storage location when the segment has one', async () => {
    const { records, counts } = await read(fixture('loistd01.xml'));
    expect(counts).toEqual({ idocs: 3, products: 0, prices: 0, counterparties: 0, stock: 3, orders: 0 });
    expect(records[0]).toEqual({
      kind: 'stock', line: 31, path: 'IDOC[DOCNUM=0000000000400001]/E1MDSTL[1]',
      data: { ...CONTROL('0000000000400001', 'LOISTD01', 'LOISTD'), MATNR: '000000000000100001', WERKS: '1000', LABST: '150.000', INSME: '5.000', SPEME: '0.000', EISBE: '0.000', TRAME: '0.000', WAREHOUSE: '1000' },
    });
    expect(records.map((r) => `${r.data.MATNR}|${r.data.WAREHOUSE}|${r.data.LABST}`)).toEqual(['000000000000100001|1000|150.000', '000000000000100002|1000|12.500', '000000000000100001|2000|0.000']);
    const withSloc = fixture('loistd01.xml').replace('<WERKS>2000</WERKS>', '<WERKS>2000</WERKS>\n      <LGORT>0002</LGORT>');
    const s = await read(withSloc, { warehouseKey: 'plantStorage' });
    expect(s.records.map((r) => r.data.WAREHOUSE)).toEqual(['1000', '1000', '2000/0002']);
  });

  it('emits only the kinds asked for, and skips IDocs whose kinds nobody wants', async () => {
    const units = await read(fixture('matmas05.xml'), { kinds: new Set(['matmas.units']) });
    expect(units.records.map((r) => `${r.kind} ${r.data.MATNR} ${r.data.MEINH}`)).toEqual([
      'matmas.units 000000000000100001 KAR', 'matmas.units 000000000000100001 PAL', 'matmas.units 000000000000100002 G', 'matmas.units 000000000000100003 KAR',
    ]);
    const none = await read(fixture('cond_a05.xml'), { kinds: new Set(['matmas']) });
    expect(none.records).toEqual([]);
    expect(none.counts).toMatchObject({ idocs: 5, prices: 0 });
    const contacts = await read(fixture('debmas07.xml'), { kinds: new Set(['debmas.contacts']) });
    expect(contacts.records.map((r) => r.path)).toEqual(['IDOC[DOCNUM=0000000000300001]/E1KNA1M[1]/E1KNVKM[1]']);
  });

  it('counts order responses (ORDRSP on ORDERS05) without making records of them', async () => {
    const ordrsp = `<ORDERS05>\n<IDOC BEGIN="1"><EDI_DC40 SEGMENT="1"><DOCNUM>0000000000000042</DOCNUM><IDOCTYP>ORDERS05</IDOCTYP><MESTYP>ORDRSP</MESTYP></EDI_DC40>
<E1EDK01 SEGMENT="1"><ACTION>004</ACTION><BELNR>2001319044</BELNR></E1EDK01><E1EDP01 SEGMENT="1"><POSEX>000010</POSEX><MENGE>5</MENGE></E1EDP01></IDOC>\n</ORDERS05>`;
    const r = await read(ordrsp);
    expect(r.records).toEqual([]);
    expect(r.counts).toEqual({ idocs: 1, products: 0, prices: 0, counterparties: 0, stock: 0, orders: 1 });
  });

  it('reads a file fed byte by byte like one fed whole', async () => {
    const cond = fixture('cond_a05.xml');
    const whole = await read(cond, {}, 1 << 20);
    const bytes = await read(cond, {}, 1);
    expect(bytes.records).toEqual(whole.records);
  });

  it('reads the same IDocs inside a SOAP envelope (SAP SOAP/IDoc adapter, PI/PO) as plain', async () => {
    const plain = fixture('cond_a05.xml');
    const soap = plain
      .replace('<COND_A05>', '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header><wsa:To xmlns:wsa="http://www.w3.org/2005/08/addressing">x</wsa:To></soapenv:Header><soapenv:Body><urn:COND_A05 xmlns:urn="urn:sap-com:document:sap:idoc:soap:messages">')
      .replace('</COND_A05>', '</urn:COND_A05></soapenv:Body></soapenv:Envelope>');
    const a = await read(plain);
    const b = await read(soap);
    expect(b.records).toEqual(a.records);
    expect(b.counts).toEqual(a.counts);
  });
});

describe('IDoc-XML payload errors', () => {
  it('malformed XML: the error names the file, DOCNUM, segment path, line and column', async () => {
    const text = fixture('cond_a05.xml').replace('<KBETR>1250.00</KBETR>', '<KBETR>1250.00</KBETX>');
    const pos = at(text, '</KBETX>');
    const e = await payloadError(text);
    expect(e.code).toBe('MAG_ERR_PAYLOAD_MALFORMED');
    expect(e.position).toEqual({ file: 'in.xml', line: pos.line, column: pos.column, path: 'IDOC[DOCNUM=0000000000100002]/E1KOMG[1]/E1KONH[1]/E1KONP[1]' });
    expect(e.message).toMatch(new RegExp(`^in\\.xml:${pos.line}:${pos.column} IDOC\\[DOCNUM=0000000000100002\\]/E1KOMG\\[1\\]/E1KONH\\[1\\]/E1KONP\\[1\\]: IDoc 0000000000100002: .*KBETX`));
  });

  it('a truncated file: the IDoc and segment being read when it ended', async () => {
    const full = fixture('cond_a05.xml');
    const cut = full.slice(0, full.indexOf('<KSTBM>10.000</KSTBM>'));
    const e = await payloadError(cut);
    expect(e.position.path).toBe('IDOC[DOCNUM=0000000000100003]/E1KOMG[1]/E1KONH[1]/E1KONP[1]/E1KONM[2]');
    expect(e.message).toContain('truncated');
    expect(e.position.line).toBe(cut.split('\n').length);
  });

  it('XXE and entity expansion are refused', async () => {
    const xxe = `<?xml version="1.0"?>\n<!DOCTYPE COND_A05 [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<COND_A05><IDOC BEGIN="1"><EDI_DC40 SEGMENT="1"><DOCNUM>1</DOCNUM><MESTYP>COND_A</MESTYP><IDOCTYP>COND_A05</IDOCTYP></EDI_DC40><E1KOMG SEGMENT="1"><MATNR>&x;</MATNR></E1KOMG></IDOC></COND_A05>`;
    const e = await payloadError(xxe);
    expect(e.code).toBe('MAG_ERR_PAYLOAD_MALFORMED');
    expect(e.position.line).toBe(2);
    expect(e.message).toMatch(/DOCTYPE/);
    const bomb = `<COND_A05><IDOC BEGIN="1"><EDI_DC40 SEGMENT="1"><DOCNUM>7</DOCNUM><MESTYP>COND_A</MESTYP><IDOCTYP>COND_A05</IDOCTYP></EDI_DC40><E1KOMG SEGMENT="1"><MATNR>&lol;</MATNR></E1KOMG></IDOC></COND_A05>`;
    const b = await payloadError(bomb);
    expect(b.position.path).toBe('IDOC[DOCNUM=7]/E1KOMG[1]');
    expect(b.message).toContain('lol');
  });

  it('a message type the flow does not take is refused with the list it accepts; an unknown basic type too', async () => {
    const e = await payloadError(fixture('cond_a05.xml'), { messageTypes: ['MATMAS', 'DEBMAS'] });
    expect(e.message).toContain('IDOC[DOCNUM=0000000000100001]: message type "COND_A" is not accepted here; accepted: MATMAS, DEBMAS');
    expect(e.position.line).toBe(9);
    const other = fixture('cond_a05.xml').replace('<MESTYP>COND_A</MESTYP>', '<MESTYP>INVOIC</MESTYP>');
    expect((await payloadError(other)).message).toContain('message type "INVOIC" is not accepted here; accepted: COND_A, MATMAS, DEBMAS, LOISTD, ORDRSP');
    const basic = fixture('cond_a05.xml').replace('<IDOCTYP>COND_A05</IDOCTYP>', '<IDOCTYP>COND_A01</IDOCTYP>');
    expect((await payloadError(basic)).message).toContain(`basic type "COND_A01" is not one of COND_A's: COND_A03, COND_A04, COND_A05`);
  });

  it('a message mixing message types: each flow reads the IDocs of its own types and skips the others', async () => {
    const cond = fixture('cond_a05.xml');
    const mat = fixture('matmas05.xml');
    const idocsOf = (text: string): string => text.slice(text.indexOf('  <IDOC BEGIN="1">'), text.lastIndexOf('</'));
    const mixed = `<COND_A05>\n${idocsOf(cond)}${idocsOf(mat)}</COND_A05>\n`;
    const prices = await read(mixed, { messageTypes: ['COND_A'] });
    expect(prices.records.map((r) => r.kind)).toEqual(Array(10).fill('cond_a'));
    expect(prices.counts).toMatchObject({ idocs: 8, prices: 10, products: 0 });
    const products = await read(mixed, { messageTypes: ['MATMAS'] });
    expect(products.records.filter((r) => r.kind === 'matmas').map((r) => r.path)).toEqual([
      'IDOC[DOCNUM=0000000000200001]/E1MARAM[1]', 'IDOC[DOCNUM=0000000000200002]/E1MARAM[1]', 'IDOC[DOCNUM=0000000000200003]/E1MARAM[1]',
    ]);
    expect(products.counts).toMatchObject({ idocs: 8, prices: 0, products: 3 });
  });

  it('a file without IDocs, or an IDoc without its control record, is no IDoc-XML', async () => {
    expect((await payloadError('<COND_A05></COND_A05>')).message).toContain('no <IDOC> in the file');
    const e = await payloadError('<COND_A05>\n<IDOC BEGIN="1">\n<E1KOMG SEGMENT="1"><MATNR>1</MATNR></E1KOMG></IDOC></COND_A05>');
    expect(e.message).toContain('IDOC[1]: segment <E1KOMG> comes before the control record EDI_DC40');
    expect(e.position.line).toBe(2);
  });
});

describe('IDoc-XML reader memory', () => {
  it('reads a 300 MB COND_A05 file with peak RSS under a fixed bound, every condition counted', async () => {
    const file = path.join(dir, 'cond-a-300mb.xml');
    const gen = await generateConditionsFile(file, { conditions: 1e9, maxBytes: 300e6 });
    expect(gen.bytes).toBeGreaterThanOrEqual(300e6);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(REPO_DIR, 'test/fixtures/sap/read-in-child.ts'), file], { cwd: REPO_DIR, maxBuffer: 1 << 20 });
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { records: number; scales: number; counts: IdocCounts; maxRssMb: number };
    expect(r.counts).toEqual({ idocs: gen.idocs, products: 0, prices: gen.conditions, counterparties: 0, stock: 0, orders: 0 });
    expect(r.records).toBe(gen.conditions);
    expect(r.scales).toBe(gen.scaled);
    // Node with tsx alone takes ~75 MB; measured 137–147 MB for this file and 170 MB at most for a
    // 50 MB one (2 shared cores): the bound is the reader's young-generation garbage, not the file.
    expect(r.maxRssMb).toBeLessThan(200);
  }, 180_000);
});

describe('sap.idoc dry run', () => {
  it('counts IDocs, products, prices, counterparties, stock, orders, rejects and errors', async () => {
    const files = ['cond_a05.xml', 'matmas05.xml', 'debmas07.xml', 'loistd01.xml'].map((f) => path.join(FIXTURES, f));
    const r = await dryRun({ registry, connector: 'sap.idoc', files });
    expect(dryRunJson(r)).toEqual({ idocs: 13, products: 3, prices: 10, counterparties: 2, stock: 3, orders: 0, rejects: 4, errors: [] });
    expect(r.samples.map((s) => `${s.at.replace(`${FIXTURES}/`, '')} ${s.field} ${s.rule}`)).toEqual([
      'cond_a05.xml:337 IDOC[DOCNUM=0000000000100005]/E1KOMG[1]/E1KONH[1]/E1KONP[1] price decimal',
      'cond_a05.xml:370 IDOC[DOCNUM=0000000000100005]/E1KOMG[2]/E1KONH[1]/E1KONP[1] price unitFactor',
      'cond_a05.xml:435 IDOC[DOCNUM=0000000000100005]/E1KOMG[4]/E1KONH[1]/E1KONP[1] unit lookup',
      'debmas07.xml:113 IDOC[DOCNUM=0000000000300002]/E1KNA1M[1] inn requisite',
    ]);
    expect(r.mappingsUsed[files[0]!]).toEqual(['sap/cond_a.prices.yaml']);
  });

  it('magistral dry-run --connector sap.idoc FILE --json; a malformed file is an error with its position', async () => {
    const cli = path.join(REPO_DIR, 'bin', 'magistral.js');
    const { stdout } = await run(process.execPath, [cli, 'dry-run', '--connector', 'sap.idoc', path.join(FIXTURES, 'cond_a05.xml'), '--json'], { cwd: REPO_DIR });
    expect(JSON.parse(stdout)).toEqual({ idocs: 5, products: 0, prices: 10, counterparties: 0, stock: 0, orders: 0, rejects: 3, errors: [] });
    const bad = path.join(dir, 'bad.xml');
    writeFileSync(bad, fixture('matmas05.xml').replace('<MATKL>02020</MATKL>', '<MATKL>02020</MATKL'));
    const e = await run(process.execPath, [cli, 'dry-run', '--connector', 'sap.idoc', '--json', bad], { cwd: REPO_DIR }).catch((x: { code: number; stdout: string }) => x);
    expect((e as { code: number }).code).toBe(1);
    expect(JSON.parse((e as { stdout: string }).stdout).errors).toEqual([
      { at: expect.stringMatching(new RegExp(`^${bad.replace(/[/.]/g, '\\$&')}:\\d+:\\d+ IDOC\\[DOCNUM=0000000000200002\\]/E1MARAM\\[1\\]$`)), message: expect.stringMatching(/^MAG_ERR_PAYLOAD_MALFORMED: IDoc 0000000000200002: /) },
    ]);
  });

  it('the connector is registered as sap.idoc with the endpoint options', () => {
    expect(registry.connector('sap.idoc')).toBe(idocConnector);
    const props = Object.keys((idocConnector.optionsSchema as { properties: object }).properties);
    expect(props).toEqual(expect.arrayContaining(['endpoint', 'messageTypes', 'userEnv', 'passwordEnv', 'maxBodyBytes', 'warehouseKey']));
  });
});

describe('COND_A05 through mappings/sap/cond_a.prices.yaml', () => {
  // What the prices flow stages; what lands in price_periods is asserted through the pipeline below.
  it('every condition record becomes its canonical price or a reject naming the rule', async () => {
    const { records } = await read(fixture('cond_a05.xml'), { kinds: new Set(['cond_a']) });
    const map = await compileMapping(await loadMapping('sap/cond_a.prices.yaml'));
    const out = records.map((r) => {
      const m = map(r.data);
      return m.ok ? m.value : `${r.path} ${m.reason}`;
    });
    expect(out).toEqual([
      { product: '000000000000100001', priceType: 'base', price: '125.5', currency: 'RUB', unit: 'PCE', validFrom: '2026-01-01', validTo: '2026-12-31' },
      // The future-dated period of the same key (E1KONH[2]), open-ended.
      { product: '000000000000100001', priceType: 'base', price: '130', currency: 'RUB', unit: 'PCE', validFrom: '2027-01-01' },
      // 1250.00 per 100 ST: 12.5 per piece.
      { product: '000000000000100002', priceType: 'base', price: '12.5', currency: 'RUB', unit: 'PCE', validFrom: '2026-01-01' },
      { product: '000000000000100003', priceType: 'wholesale', price: '1000', currency: 'RUB', unit: 'CT', validFrom: '2026-01-01', tiers: '1.000:1000;10.000:950;100.000:900' },
      { product: '000000000000100001', priceType: 'PR00/C/0000100001', price: '119', currency: 'RUB', unit: 'PCE', validFrom: '2026-01-01' },
      { product: '000000000000100002', priceType: 'base', price: '11', currency: 'RUB', unit: 'PCE', validFrom: '2025-01-01', validTo: '2025-12-31', deleted: true },
      'IDOC[DOCNUM=0000000000100005]/E1KOMG[1]/E1KONH[1]/E1KONP[1] price: "12,3a" is not a number (transform decimal)',
      'IDOC[DOCNUM=0000000000100005]/E1KOMG[2]/E1KONH[1]/E1KONP[1] price: cannot divide "10.00" by a zero factor (transform unitFactor)',
      // DATAB after DATBI passes the mapping with both dates: the price merge refuses the period.
      { product: '000000000000100003', priceType: 'base', price: '10', currency: 'RUB', unit: 'PCE', validFrom: '2026-12-31', validTo: '2026-01-01' },
      'IDOC[DOCNUM=0000000000100005]/E1KOMG[4]/E1KONH[1]/E1KONP[1] unit: "XYZ" is not in the lookup table (known: ST, PC, PCE, EA, KG, KGM, G, GRM, TO, TNE) (transform lookup)',
    ]);
  });
});

describe('SAP IDocs through the pipeline (ops/flows/sap-idoc.yaml)', () => {
  let tp: TestPipeline;
  const q = async (sql: string): Promise<unknown[]> => (await tp.rt.pool.query(sql)).rows;
  beforeAll(async () => {
    tp = await createTestPipeline('sap-idoc');
    await tp.applyFlowFile('ops/flows/sap-idoc.yaml');
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('MATMAS05 → products and product units', async () => {
    const file = fixture('matmas05.xml');
    for (const f of ['sap-products', 'sap-product-units']) {
      const run = await tp.ingest(f, file, 'matmas05.xml');
      expect(run.state, `${f}: ${run.error?.message}`).toBe('done');
      expect(run.rows.rejected).toBe(0);
    }
    expect(await q(`
      SELECT p.code, p.name, p.barcode, g.code AS "group", u.code AS unit, p.deleted
      FROM products p LEFT JOIN groups g ON g.id = p.group_id LEFT JOIN units u ON u.id = p.unit_id ORDER BY p.code`)).toEqual([
      { code: '000000000000100001', name: 'Винт М6 с шестигранной головкой', barcode: '4601234567893', group: '01010', unit: 'PCE', deleted: false },
      { code: '000000000000100002', name: 'Cement M500, bag', barcode: null, group: '02020', unit: 'KGM', deleted: true },
      { code: '000000000000100003', name: 'Шайба 6 мм', barcode: null, group: '01010', unit: 'PCE', deleted: false },
    ]);
    expect(await q(`
      SELECT p.code AS product, x.unit, x.factor::text AS factor, x.barcode
      FROM product_units x JOIN products p ON p.id = x.product_id ORDER BY 1, 2`)).toEqual([
      { product: '000000000000100001', unit: 'CT', factor: '12.000000', barcode: '14601234567890' },
      { product: '000000000000100001', unit: 'PF', factor: '480.000000', barcode: null },
      { product: '000000000000100002', unit: 'GRM', factor: '0.001000', barcode: null },
      { product: '000000000000100003', unit: 'CT', factor: '100.000000', barcode: null },
    ]);
  });

  it('DEBMAS07 → clients, legal entities (a mistyped INN rejected with its IDoc and segment), contacts', async () => {
    const file = fixture('debmas07.xml');
    for (const f of ['sap-clients', 'sap-legal-entities', 'sap-contacts']) {
      const run = await tp.ingest(f, file, 'debmas07.xml');
      expect(run.state, `${f}: ${run.error?.message}`).toBe('done');
      expect(run.rows.rejected).toBe(f === 'sap-legal-entities' ? 1 : 0);
      if (f === 'sap-legal-entities') {
        const rejects = await listRejects(tp.rt.db, run.id);
        expect(rejects.map((r) => [r.path, r.line, r.field])).toEqual([['IDOC[DOCNUM=0000000000300002]/E1KNA1M[1]', 113, 'inn']]);
      }
    }
    expect(await q(`
      SELECT c.code, c.name, m.code AS manager, c.phone, c.blocked
      FROM clients c LEFT JOIN managers m ON m.id = c.manager_id ORDER BY c.code`)).toEqual([
      { code: '0000100001', name: 'ООО «Ромашка» Торговый дом', manager: '00000123', phone: '+7 495 000-00-01', blocked: false },
      { code: '0000100002', name: 'ИП Сидоров А. В.', manager: '00000124', phone: null, blocked: true },
    ]);
    expect(await q(`
      SELECT l.code, c.code AS client, l.name, l.full_name, l.inn, l.kpp, l.address, l.bank_name, l.bik, l.account, l.corr_account, l.deleted
      FROM legal_entities l LEFT JOIN clients c ON c.id = l.client_id ORDER BY l.code`)).toEqual([
      {
        code: '0000100001', client: '0000100001', name: 'ООО «Ромашка» Торговый дом', full_name: 'ООО «Ромашка» Торговый дом', inn: '7701234560', kpp: '770101001',
        address: '101000, Москва, ул. Примерная, 1', bank_name: 'АО «Пример-Банк»', bik: '049999001', account: '40702810000000000001', corr_account: null, deleted: false,
      },
    ]);
    expect(await q(`
      SELECT x.code, c.code AS client, x.name, x.phone, x.position
      FROM contacts x LEFT JOIN clients c ON c.id = x.client_id ORDER BY x.code`)).toEqual([
      { code: '0000100001/0000000501', client: '0000100001', name: 'Иван Петров', phone: '+7 495 000-00-02', position: '01' },
    ]);
  });

  it('LOISTD01 → stock per plant', async () => {
    const run = await tp.ingest('sap-stock', fixture('loistd01.xml'), 'loistd01.xml');
    expect(run.state, run.error?.message).toBe('done');
    expect(await q(`
      SELECT p.code AS product, w.code AS warehouse, s.quantity::text AS quantity
      FROM stock s JOIN products p ON p.id = s.product_id JOIN warehouses w ON w.id = s.warehouse_id ORDER BY 1, 2`)).toEqual([
      { product: '000000000000100001', warehouse: '1000', quantity: '150.000000' },
      { product: '000000000000100001', warehouse: '2000', quantity: '0.000000' },
      { product: '000000000000100002', warehouse: '1000', quantity: '12.500000' },
    ]);
  });

  it('COND_A05 → price periods with validity, scales as tiers; the bad conditions rejected with their IDoc and segment', async () => {
    // Price types are declared in the portal, not invented from condition keys (the flow creates products only).
    await tp.applyFlowYaml(`apiVersion: magistral/v1
kind: Flow
name: sap-price-types
source: { connector: file.csv, system: sap }
mapping: file/price-types.yaml
target: priceTypes
mode: delta
`);
    const pt = await tp.ingest('sap-price-types', 'code;name;currency\nbase;Base;RUB\nwholesale;Wholesale;RUB\nPR00/C/0000100001;Customer 0000100001;RUB\n', 'price-types.csv');
    expect(pt.state, pt.error?.message).toBe('done');
    // The materials' units first: a price per carton gets the carton's factor (1 KAR = 100 ST of 100003).
    expect((await tp.ingest('sap-product-units', fixture('matmas05.xml'), 'matmas05.xml')).state).toBe('done');
    const run = await tp.ingest('sap-prices', fixture('cond_a05.xml'), 'cond_a05.xml');
    expect(run.state, run.error?.message).toBe('done');
    expect(run.rows).toMatchObject({ read: 10, rejected: 4 });
    const rejects = await listRejects(tp.rt.db, run.id);
    // Every reject carries the IDoc and segment path: the mapping's, and the merge's (DATAB after DATBI).
    expect(rejects.map((r) => `${r.file}:${r.line} ${r.path} ${r.field}: ${r.reason}`).sort()).toEqual([
      'cond_a05.xml:337 IDOC[DOCNUM=0000000000100005]/E1KOMG[1]/E1KONH[1]/E1KONP[1] price: price: "12,3a" is not a number (transform decimal)',
      'cond_a05.xml:370 IDOC[DOCNUM=0000000000100005]/E1KOMG[2]/E1KONH[1]/E1KONP[1] price: price: cannot divide "10.00" by a zero factor (transform unitFactor)',
      'cond_a05.xml:403 IDOC[DOCNUM=0000000000100005]/E1KOMG[3]/E1KONH[1]/E1KONP[1] validTo: validTo 2026-01-01 is before validFrom 2026-12-31: the price would never hold',
      'cond_a05.xml:435 IDOC[DOCNUM=0000000000100005]/E1KOMG[4]/E1KONH[1]/E1KONP[1] unit: unit: "XYZ" is not in the lookup table (known: ST, PC, PCE, EA, KG, KGM, G, GRM, TO, TNE) (transform lookup)',
    ]);
    // Every period, dates read in Europe/Moscow (the flow's timezone): DATAB from its midnight, DATBI to
    // the end of its day, 99991231 open. The deleted condition (LOEVM_KO X) had no period to remove.
    const periods = await q(`
      SELECT t.code AS pt, p.code AS product, x.valid_from, x.valid_until, x.value::text, x.currency, x.unit, x.factor::text, x.tiers
      FROM price_periods x JOIN products p ON p.id = x.product_id JOIN price_types t ON t.id = x.price_type_id ORDER BY 1, 2, 3`);
    const from2026 = new Date('2025-12-31T21:00:00Z');
    expect(periods).toEqual([
      { pt: 'PR00/C/0000100001', product: '000000000000100001', valid_from: from2026, valid_until: null, value: '119.000000', currency: 'RUB', unit: 'PCE', factor: '1.000000', tiers: null },
      { pt: 'base', product: '000000000000100001', valid_from: from2026, valid_until: new Date('2026-12-31T21:00:00Z'), value: '125.500000', currency: 'RUB', unit: 'PCE', factor: '1.000000', tiers: null },
      { pt: 'base', product: '000000000000100001', valid_from: new Date('2026-12-31T21:00:00Z'), valid_until: null, value: '130.000000', currency: 'RUB', unit: 'PCE', factor: '1.000000', tiers: null },
      { pt: 'base', product: '000000000000100002', valid_from: from2026, valid_until: null, value: '12.500000', currency: 'RUB', unit: 'PCE', factor: '1.000000', tiers: null },
      {
        pt: 'wholesale', product: '000000000000100003', valid_from: from2026, valid_until: null, value: '1000.000000', currency: 'RUB', unit: 'CT', factor: '100.000000',
        tiers: [{ minQuantity: '1.000', price: '1000' }, { minQuantity: '10.000', price: '950' }, { minQuantity: '100.000', price: '900' }],
      },
    ]);
    // The future-dated price: the old one before 1 January 2027 (Moscow), the new one from then on, by the
    // query's instant, not the system clock.
    const at = async (instant: string): Promise<unknown[]> => (await tp.rt.pool.query(`
      SELECT v.value::text FROM price_types t, products p, LATERAL ${priceAtSql('t.id', 'p.id', '$1::timestamptz')} v
      WHERE t.code = 'base' AND p.code = '000000000000100001'`, [instant])).rows;
    expect(await at('2025-12-31T23:59:59+03:00')).toEqual([]);
    expect(await at('2026-06-01T12:00:00+03:00')).toEqual([{ value: '125.500000' }]);
    expect(await at('2026-12-31T23:59:59+03:00')).toEqual([{ value: '125.500000' }]);
    expect(await at('2027-01-01T00:00:00+03:00')).toEqual([{ value: '130.000000' }]);

    // SAP deletes the future period (LOEVM_KO X on its condition record): only the current one is left.
    const deletion = fixture('cond_a05.xml').split('  <IDOC BEGIN="1">')[0]!.replace(/<!--[\s\S]*?-->\n/, '')
      + `<IDOC BEGIN="1"><EDI_DC40 SEGMENT="1"><DOCNUM>0000000000100099</DOCNUM><IDOCTYP>COND_A05</IDOCTYP><MESTYP>COND_A</MESTYP></EDI_DC40>
<E1KOMG SEGMENT="1"><KSCHL>PR00</KSCHL><VKORG>1000</VKORG><VTWEG>10</VTWEG><PLTYP>01</PLTYP><MATNR>000000000000100001</MATNR>
<E1KONH SEGMENT="1"><KNUMH>0000500002</KNUMH><DATAB>20270101</DATAB><DATBI>99991231</DATBI>
<E1KONP SEGMENT="1"><KSCHL>PR00</KSCHL><KBETR>130.00</KBETR><KONWA>RUB</KONWA><KPEIN>1</KPEIN><KMEIN>ST</KMEIN><LOEVM_KO>X</LOEVM_KO></E1KONP></E1KONH></E1KOMG></IDOC></COND_A05>`;
    const del = await tp.ingest('sap-prices', deletion, 'cond_a05-delete.xml');
    expect(del.state, del.error?.message).toBe('done');
    expect(del.rows).toMatchObject({ read: 1, rejected: 0 });
    expect(await at('2027-01-01T00:00:00+03:00')).toEqual([]);
    expect(await at('2026-06-01T12:00:00+03:00')).toEqual([{ value: '125.500000' }]);
  });

  it('a file without an IDoc of the flow\'s message types fails the run naming the IDoc and the accepted list; the store is untouched', async () => {
    const before = await q(`SELECT count(*)::int AS n FROM products`);
    const run = await tp.ingest('sap-products', fixture('loistd01.xml'), 'loistd01.xml');
    expect(run.state).toBe('failed');
    expect(run.error?.message).toContain('loistd01.xml:9 IDOC[DOCNUM=0000000000400001]: message type "LOISTD" is not accepted here; accepted: MATMAS');
    expect(await q(`SELECT count(*)::int AS n FROM products`)).toEqual(before);
  });
});
