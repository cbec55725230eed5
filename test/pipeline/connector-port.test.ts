// The connector port on a real store: receiving a payload for several flows makes their runs in the
// canonical dependency order, once per key; a connector's migrations are its own; the registry refuses
// two modules claiming the same kind.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectorPort } from '../../src/pipeline/connector-port.ts';
import { Registry } from '../../src/pipeline/registry.ts';
import type { ConnectorPort } from '../../src/port/index.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { csvConnector } from '../../connectors/index.ts';

describe('the connector port', () => {
  let tp: TestPipeline;
  let port: ConnectorPort;
  beforeAll(async () => {
    tp = await createTestPipeline('port', { workers: false });
    for (const f of ['prices-csv', 'price-types-csv', 'products-csv']) await tp.applyFlowFile(`ops/flows/${f}.yaml`);
    port = createConnectorPort(tp.rt, {});
  });
  afterAll(async () => tp.close());

  const body = () => Readable.from([Buffer.from('sku;price_type;price;currency\nA;retail;1.00;RUB\n')]);

  it('makes one run per flow, what others refer to first, and enqueues them', async () => {
    const r = await port.receive({ flows: ['prices-csv', 'products-csv', 'price-types-csv'], files: [{ fileName: 'x.csv', body: body() }], key: 'k1' });
    expect(r.runs.map((x) => x.flow)).toEqual(['price-types-csv', 'products-csv', 'prices-csv']);
    expect(r.repeated).toBeUndefined();
    const runs = (await tp.rt.pool.query(`SELECT id, depends_on, receipt_key, inbox_ids FROM runs ORDER BY id`)).rows;
    expect(runs.map((x) => Number(x.id))).toEqual(r.runs.map((x) => x.id));
    // Products merge after the earlier rank (price types); prices create placeholders for whatever they
    // refer to (autoCreate: true), so they wait for nothing.
    expect(runs.map((x) => x.depends_on.map(Number))).toEqual([[], [r.runs[0]!.id], []]);
    expect(runs.every((x) => x.receipt_key === 'k1')).toBe(true);
    const jobs = await tp.rt.queues.extract.getJobs(['waiting', 'delayed', 'prioritized']);
    expect(jobs.map((j) => j.data.runId).sort()).toEqual(r.runs.map((x) => x.id).sort());
    const status = await port.runs(r.runs.map((x) => x.id));
    expect(status.map((s) => s.state)).toEqual(['received', 'received', 'received']);
  });

  it('answers the first receipt again for the same key, making and storing nothing', async () => {
    const before = Number((await tp.rt.pool.query(`SELECT count(*) AS n FROM inbox`)).rows[0].n);
    const first = (await tp.rt.pool.query(`SELECT id FROM runs WHERE receipt_key = 'k1' ORDER BY id`)).rows.map((x) => Number(x.id));
    const again = await Promise.all([1, 2].map(() => port.receive({ flows: ['prices-csv', 'price-types-csv'], files: [{ fileName: 'x.csv', body: body() }], key: 'k1' })));
    for (const a of again) expect(a).toMatchObject({ runs: first.map((id) => expect.objectContaining({ id })), repeated: true });
    expect(Number((await tp.rt.pool.query(`SELECT count(*) AS n FROM inbox`)).rows[0].n)).toBe(before);
  });

  it('refuses a receipt for no flow or an unknown flow, storing nothing', async () => {
    await expect(port.receive({ flows: [], files: [{ fileName: 'x.csv', body: body() }] })).rejects.toThrow(/no flow/);
    await expect(port.receive({ flows: ['nope'], files: [{ fileName: 'x.csv', body: body() }] })).rejects.toMatchObject({ code: 'MAG_ERR_FLOW_NOT_FOUND' });
  });

  it('lists the flows of a connector kind', async () => {
    expect((await port.flows('file.csv')).map((f) => f.name)).toEqual(['price-types-csv', 'prices-csv', 'products-csv']);
    expect(await port.flows('onec.commerceml')).toEqual([]);
  });

  it('keeps a connector\'s migrations in a bookkeeping table of its own', async () => {
    const r = await tp.rt.pool.query(`SELECT name FROM kysely_migration_onec ORDER BY name`);
    expect(r.rows.map((x) => x.name)).toEqual(['0001-exchange-sessions-and-files', '0002-file-generation']);
    const core = await tp.rt.pool.query(`SELECT name FROM kysely_migration WHERE name LIKE '%onec%' OR name LIKE '%exchange%'`);
    expect(core.rows.map((x) => x.name)).toEqual(['0005-onec-exchange']);
    expect((await tp.rt.pool.query(`SELECT to_regclass('onec_files') IS NOT NULL AS ok`)).rows[0].ok).toBe(true);
  });
});

describe('the registry', () => {
  it('refuses two modules bringing the same kind, or one module listed twice', () => {
    expect(() => new Registry([{ name: 'a', connectors: [csvConnector] }, { name: 'b', connectors: [csvConnector] }])).toThrow(/file.csv.*two modules/);
    expect(() => new Registry([{ name: 'a' }, { name: 'a' }])).toThrow(/listed twice/);
    expect(() => new Registry([{ name: 'Bad Name' }])).toThrow(/must match/);
  });
});
