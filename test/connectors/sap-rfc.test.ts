// The sap.rfc connector through its client interface (RfcClient), with recorded RFC_READ_TABLE answers
// in the shape node-rfc returns them (test/fixtures/sap/rfc-read-table-*.json: MARA, KONP, MAKT) handed
// in through the connector's client factory; the pipeline, store and queue stay real. Without node-rfc
// (this machine has no SAP NW RFC SDK) the shipped connector's pull fails saying what to install, and
// the registry and other flows are untouched.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { pullFlow, settlePull, type PullOutcome } from '../../src/pipeline/poll.ts';
import { listRejects, waitForRun } from '../../src/pipeline/runs.ts';
import { Registry } from '../../src/pipeline/registry.ts';
import { CONNECTOR_MODULES } from '../../connectors/index.ts';
import {
  abapValue, bapiErrors, createSapRfcConnector, sapRfcConnector, splitRow, whereLines, type RfcClient, type RfcClientFactory,
} from '../../connectors/sap/rfc/index.ts';
import type { PullContext, PullResult } from '../../src/port/index.ts';

interface RecordedCall { function: string; params: Record<string, unknown>; result: Record<string, unknown> }

function fixture(name: string): RecordedCall[] {
  return (JSON.parse(readFileSync(new URL(`../fixtures/sap/${name}`, import.meta.url), 'utf8')) as { calls: RecordedCall[] }).calls;
}

/** A recorded SAP system: answers each call whose function, table and page it has; records what was asked. */
function recorded(calls: RecordedCall[], extra: Record<string, (p: Record<string, unknown>) => Record<string, unknown>> = {}) {
  const log: Array<{ fn: string; params: Record<string, unknown> }> = [];
  const opened: Array<Record<string, string>> = [];
  let closed = 0;
  const factory: RfcClientFactory = async (params) => {
    opened.push(params);
    const client: RfcClient = {
      async call(fn, params) {
        log.push({ fn, params });
        if (extra[fn]) return extra[fn](params);
        const hit = calls.find((c) => c.function === fn && c.params.QUERY_TABLE === params.QUERY_TABLE && c.params.ROWSKIPS === params.ROWSKIPS && c.params.ROWCOUNT === params.ROWCOUNT);
        // node-rfc rejects with the ABAP exception of the function module.
        if (!hit) throw Object.assign(new Error(`Table ${String(params.QUERY_TABLE)} not recorded`), { name: 'ABAPError', key: 'TABLE_NOT_AVAILABLE', code: 5 });
        return structuredClone(hit.result);
      },
      async close() {
        closed++;
      },
    };
    return client;
  };
  return { factory, log, opened, closed: () => closed };
}

const silent = { debug() {}, info() {}, warn() {} };

async function pullDirect(factory: RfcClientFactory, options: Record<string, unknown>, env: Record<string, string> = { RFC_USER: 'MAGISTRAL', RFC_PASS: 'pw' }): Promise<{ fileName: string; lines: Array<Record<string, string>>; result: PullResult }> {
  const ctx: PullContext = { flow: 'rfc-test', options, cursor: undefined, env, log: silent as PullContext['log'] };
  const handle = createSapRfcConnector({ clientFactory: factory }).pull!(ctx);
  let text = '';
  let r = await handle.body.next();
  while (!r.done) {
    text += String(r.value);
    r = await handle.body.next();
  }
  return { fileName: handle.fileName, lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>), result: r.value };
}

const CONN = { ashost: 'sap-erp.test', sysnr: '00', client: '100', lang: 'RU', userEnv: 'RFC_USER', passwordEnv: 'RFC_PASS' };

describe('RFC_READ_TABLE pieces', () => {
  it('splits a WHERE clause into 72-character OPTIONS lines, never inside a literal', () => {
    expect(whereLines("MTART IN ('FERT','HAWA')")).toEqual([{ TEXT: "MTART IN ('FERT','HAWA')" }]);
    const long = "MTART = 'FERT' AND MATKL IN ('L001','L002','L003','L004') AND ERSDA >= '20260101' AND LVORM = ' ' AND MBRSH = 'M'";
    const lines = whereLines(long);
    expect(lines.length).toBe(2);
    expect(lines.every((l) => l.TEXT.length <= 72)).toBe(true);
    expect(lines.map((l) => l.TEXT).join(' ')).toBe(long);
    expect(whereLines("MAKTX = 'A B  C' AND SPRAS = 'R'")).toEqual([{ TEXT: "MAKTX = 'A B  C' AND SPRAS = 'R'" }]);
    expect(() => whereLines("MAKTX = 'open")).toThrow(/unterminated/);
    expect(() => whereLines(`MAKTX = '${'x'.repeat(80)}'`)).toThrow(/longer than 72/);
  });

  it('reads DATA rows at the delimiter, or at FIELDS offsets when a value holds the delimiter', () => {
    const fields = [{ FIELDNAME: 'MATNR', OFFSET: 0, LENGTH: 6, TYPE: 'C' }, { FIELDNAME: 'MAKTX', OFFSET: 7, LENGTH: 8, TYPE: 'C' }];
    expect(splitRow('TG11  |Cable   ', fields, '|')).toEqual({ MATNR: 'TG11', MAKTX: 'Cable' });
    expect(splitRow('TG11  |A | B   ', fields, '|')).toEqual({ MATNR: 'TG11', MAKTX: 'A | B' });
    expect(abapValue('      3.00-', 'P')).toBe('-3.00');
    expect(abapValue('3.00-', 'C')).toBe('3.00-');
    expect(abapValue('00000000', 'D')).toBe('');
    expect(bapiErrors([{ TYPE: 'S', MESSAGE: 'ok' }, { TYPE: 'E', ID: 'M3', NUMBER: '305', MESSAGE: 'Material TG99 does not exist' }])).toEqual(['E M3 305: Material TG99 does not exist']);
    expect(bapiErrors({ TYPE: '', MESSAGE: '' })).toEqual([]);
  });
});

describe('sap.rfc pulls through the client interface', () => {
  it('reads MARA page by page (ROWSKIPS/ROWCOUNT) into records, ALPHA zeros dropped', async () => {
    const sap = recorded(fixture('rfc-read-table-mara.json'));
    const { fileName, lines, result } = await pullDirect(sap.factory, {
      ...CONN, table: { name: 'MARA', fields: ['MATNR', 'MTART', 'MEINS', 'MATKL', 'LVORM', 'BRGEW'], where: "MTART IN ('FERT','HAWA')", rowCount: 3, alphaOut: ['MATNR'] },
    });
    expect(fileName).toBe('MARA.ndjson');
    expect(result).toEqual({ records: 4, changed: true });
    expect(sap.opened).toEqual([{ ashost: 'sap-erp.test', sysnr: '00', client: '100', lang: 'RU', user: 'MAGISTRAL', passwd: 'pw' }]);
    expect(sap.closed()).toBe(1);
    expect(sap.log.map((c) => [c.fn, c.params.ROWSKIPS, c.params.ROWCOUNT])).toEqual([['RFC_READ_TABLE', 0, 3], ['RFC_READ_TABLE', 3, 3]]);
    expect(sap.log[0]!.params).toMatchObject({ QUERY_TABLE: 'MARA', DELIMITER: '|', OPTIONS: [{ TEXT: "MTART IN ('FERT','HAWA')" }], FIELDS: [{ FIELDNAME: 'MATNR' }, { FIELDNAME: 'MTART' }, { FIELDNAME: 'MEINS' }, { FIELDNAME: 'MATKL' }, { FIELDNAME: 'LVORM' }, { FIELDNAME: 'BRGEW' }] });
    expect(lines).toEqual([
      { MATNR: 'TG11', MTART: 'FERT', MEINS: 'ST', MATKL: 'L001', LVORM: '', BRGEW: '12.500' },
      { MATNR: '12345', MTART: 'HAWA', MEINS: 'KG', MATKL: 'L002', LVORM: '', BRGEW: '0.250' },
      { MATNR: 'TG13', MTART: 'FERT', MEINS: 'ST', MATKL: 'L001', LVORM: 'X', BRGEW: '1.000' },
      { MATNR: 'TG14', MTART: 'FERT', MEINS: 'ST', MATKL: 'L001', LVORM: '', BRGEW: '0.000' },
    ]);
  });

  it('reads KONP with packed amounts, the trailing minus put in front', async () => {
    const sap = recorded(fixture('rfc-read-table-konp.json'));
    const { lines } = await pullDirect(sap.factory, {
      ...CONN, table: { name: 'KONP', fields: ['KNUMH', 'KOPOS', 'KSCHL', 'KBETR', 'KONWA', 'KPEIN', 'KMEIN', 'LOEVM_KO'], where: "KAPPL = 'V' AND KSCHL IN ('PR00','K004')", rowCount: 10 },
    });
    expect(sap.log).toHaveLength(1);
    expect(lines.map((l) => `${l.KNUMH}|${l.KSCHL}|${l.KBETR}|${l.KONWA}|${l.KPEIN}|${l.KMEIN}|${l.LOEVM_KO}`)).toEqual([
      '0000012301|PR00|1500.00|EUR|100|ST|', '0000012302|PR00|19.90|RUB|1|ST|', '0000012305|K004|-3.00|%|0||', '0000012306|PR00|21.50|RUB|1|ST|X',
    ]);
  });

  it('calls a configured BAPI: its result table becomes records; RETURN errors fail the pull', async () => {
    const rows = [{ MATERIAL: 'TG11', MATL_DESC: 'Кабель', MATERIAL_EXTERNAL: '', MATERIAL_GUID: Buffer.from([0xab, 0x01]) }, { MATERIAL: 'TG13', MATL_DESC: 'Провод ', MATERIAL_EXTERNAL: '' }];
    let ret: unknown = [{ TYPE: 'S', ID: '', NUMBER: '000', MESSAGE: '' }];
    const sap = recorded([], { BAPI_MATERIAL_GETLIST: () => ({ MATNRLIST: rows, RETURN: ret }) });
    const bapi = { function: 'BAPI_MATERIAL_GETLIST', params: { MAXROWS: 0, MATNRSELECTION: [{ SIGN: 'I', OPTION: 'CP', MATNR_LOW: 'TG*' }] }, resultTable: 'MATNRLIST' };
    const { fileName, lines } = await pullDirect(sap.factory, { ...CONN, bapi });
    expect(fileName).toBe('BAPI_MATERIAL_GETLIST.ndjson');
    expect(sap.log[0]).toEqual({ fn: 'BAPI_MATERIAL_GETLIST', params: bapi.params });
    expect(lines).toEqual([{ MATERIAL: 'TG11', MATL_DESC: 'Кабель', MATERIAL_EXTERNAL: '', MATERIAL_GUID: 'AB01' }, { MATERIAL: 'TG13', MATL_DESC: 'Провод', MATERIAL_EXTERNAL: '' }]);
    ret = { TYPE: 'E', ID: 'M3', NUMBER: '350', MESSAGE: 'No authorization for material master' };
    await expect(pullDirect(sap.factory, { ...CONN, bapi })).rejects.toMatchObject({ code: 'MAG_ERR_PULL_FAILED', message: 'sap.rfc BAPI_MATERIAL_GETLIST: E M3 350: No authorization for material master' });
  });

  it('turns node-rfc errors into pull errors: a refused logon is an auth error; the connection is closed', async () => {
    const refused: RfcClientFactory = async () => {
      throw Object.assign(new Error('Name or password is incorrect (repeat logon)'), { name: 'RfcLibError', key: 'RFC_LOGON_FAILURE', code: 2 });
    };
    await expect(pullDirect(refused, { ...CONN, table: { name: 'MARA', fields: ['MATNR'] } }))
      .rejects.toMatchObject({ code: 'MAG_ERR_PULL_AUTH', message: 'sap.rfc logon: RFC_LOGON_FAILURE: Name or password is incorrect (repeat logon)' });
    const sap = recorded([]);
    await expect(pullDirect(sap.factory, { ...CONN, table: { name: 'ZMISSING', fields: ['MATNR'] } }))
      .rejects.toMatchObject({ code: 'MAG_ERR_PULL_FAILED', message: 'sap.rfc RFC_READ_TABLE ZMISSING: TABLE_NOT_AVAILABLE: Table ZMISSING not recorded' });
    expect(sap.closed()).toBe(1);
    await expect(pullDirect(sap.factory, { ...CONN, table: { name: 'MARA', fields: ['MATNR'] } }, {}))
      .rejects.toMatchObject({ code: 'MAG_ERR_PULL_AUTH', message: 'sap.rfc: environment variables RFC_USER and RFC_PASS not set (userEnv/passwordEnv of the flow)' });
  });

  it('without node-rfc the pull fails naming what to install (SDK 7.50, SAPNWRFC_HOME, npm i node-rfc)', async () => {
    const ctx: PullContext = { flow: 'rfc-test', options: { ...CONN, table: { name: 'MARA', fields: ['MATNR'] } }, cursor: undefined, env: { RFC_USER: 'u', RFC_PASS: 'p' }, log: silent as PullContext['log'] };
    const handle = sapRfcConnector.pull!(ctx);
    const err = await handle.body.next().then(() => undefined, (e: unknown) => e as { code: string; message: string });
    expect(err).toMatchObject({ code: 'MAG_ERR_PULL_FAILED' });
    expect(err!.message).toContain('node-rfc cannot be loaded (the package node-rfc is not installed)');
    expect(err!.message).toContain('SAP NW RFC SDK 7.50');
    expect(err!.message).toContain('SAPNWRFC_HOME');
    expect(err!.message).toContain('`npm i node-rfc`');
  });
});

describe('sap.rfc flows in the pipeline', () => {
  let tp: TestPipeline;
  const sap = recorded(fixture('rfc-read-table-makt.json'));
  // The build's modules with the SAP module's RFC connector given the recorded system.
  const modules = CONNECTOR_MODULES.map((m) => (m.name === 'sap' ? { ...m, connectors: m.connectors!.map((c) => (c.kind === 'sap.rfc' ? createSapRfcConnector({ clientFactory: sap.factory }) : c)) } : m));
  const env = { SAP_RFC_USER: 'MAGISTRAL', SAP_RFC_PASSWORD: 'pw' };
  const flowText = readFileSync(new URL('../../ops/flows/sap-rfc-products.yaml', import.meta.url), 'utf8').replace('rowCount: 20000', 'rowCount: 1000')
    // These tests pull by hand: the workers' scheduler would pull an `everySeconds` flow at once.
    .replace(/^schedule:.*\n/gm, '');

  beforeAll(async () => {
    tp = await createTestPipeline('saprfc', { registry: new Registry(modules) });
  });
  afterAll(async () => {
    await tp?.close();
  });

  async function pull(name: string): Promise<PullOutcome> {
    return pullFlow(tp.rt, name, { env });
  }

  it('pulls MAKT with the example flow: products land, a row whose name holds the delimiter included, an empty name rejected', async () => {
    await tp.applyFlowYaml(flowText);
    const o = await pull('sap-rfc-products');
    expect(o, JSON.stringify(o)).toMatchObject({ outcome: 'received', records: 3 });
    const run = await waitForRun(tp.rt.db, (o as { runId: number }).runId, { timeoutMs: 60_000, intervalMs: 50 });
    await settlePull(tp.rt.db, (o as { flowId: number }).flowId);
    expect(run.state).toBe('done');
    expect(run.files).toEqual(['MAKT.ndjson']);
    expect(sap.log.at(-1)!.params).toMatchObject({ QUERY_TABLE: 'MAKT', OPTIONS: [{ TEXT: "SPRAS = 'R'" }], ROWSKIPS: 0, ROWCOUNT: 1000 });
    const r = await tp.rt.pool.query(`SELECT code, name FROM products ORDER BY code`);
    expect(r.rows).toEqual([{ code: '12345', name: 'Провод ПВ1 1x1,5 | бухта 100 м' }, { code: 'TG11', name: 'Кабель ВВГнг 3x2,5' }]);
    expect(await listRejects(tp.rt.db, run.id)).toMatchObject([{ file: 'MAKT.ndjson', line: 3, field: 'name' }]);
  });

  it('the shipped connector without node-rfc fails only its own flow', async () => {
    // Workers start after the pull: their scheduler would pull the scheduled flow at once, and this
    // pull would then find it busy (seen in the full suite).
    const plain = await createTestPipeline('saprfc-plain', { workers: false });
    try {
      await plain.applyFlowYaml(flowText);
      await plain.applyFlowFile('ops/flows/prices-csv.yaml');
      const o = await pullFlow(plain.rt, 'sap-rfc-products', { env });
      expect(o).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_FAILED' } });
      expect(JSON.stringify(o)).toContain('npm i node-rfc');
      expect(JSON.stringify(o)).not.toContain('"pw"');
      // Another flow of the same installation still runs.
      await plain.startWorkers();
      const run = await plain.ingest('prices-csv', 'sku;price_type;price;currency\nA-1;retail;10.50;RUB\n', 'prices.csv');
      expect(run.state).toBe('done');
    } finally {
      await plain.close();
    }
  });
});
