// Id translation against a real database: external_ids rows of two systems joined on internal_id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMapping, dbLookups } from '../../src/mapping/index.ts';
import type { Mapping } from '../../src/schemas/index.ts';
import { createTestDb, type TestDb } from '../helpers/db.ts';

let t: TestDb;

beforeAll(async () => {
  t = await createTestDb('lookups');
  await t.db
    .insertInto('external_ids')
    .values([
      { entity: 'product', system: 'sap', external_id: '000000000000100001', internal_id: 1 },
      { entity: 'product', system: 'onec', external_id: 'a1b2-guid', internal_id: 1 },
      { entity: 'product', system: 'sap', external_id: '000000000000100002', internal_id: 2 },
      { entity: 'product', system: 'onec', external_id: 'c3d4-guid', internal_id: 2 },
      { entity: 'product', system: 'sap', external_id: '000000000000100003', internal_id: 3 }, // not in onec
      { entity: 'warehouse', system: 'sap', external_id: '000000000000100001', internal_id: 1 },
      { entity: 'warehouse', system: 'onec', external_id: 'WH-MAIN', internal_id: 1 },
    ])
    .execute();
});

afterAll(async () => {
  await t?.drop();
});

describe('dbLookups', () => {
  it('translates one entity between two systems', async () => {
    const map = await dbLookups(t.db).translate('product', 'sap', 'onec');
    expect(Object.fromEntries(map)).toEqual({ '000000000000100001': 'a1b2-guid', '000000000000100002': 'c3d4-guid' });
    expect(Object.fromEntries(await dbLookups(t.db).translate('warehouse', 'sap', 'onec'))).toEqual({ '000000000000100001': 'WH-MAIN' });
    expect((await dbLookups(t.db).translate('group', 'sap', 'onec')).size).toBe(0);
  });

  it('feeds a compiled mapping: known ids translated, unknown rejected', async () => {
    const m: Mapping = {
      apiVersion: 'magistral/v1', kind: 'Mapping', name: 'sap-stock', target: 'stock',
      fields: {
        product: { from: 'MATNR', transforms: [{ lookup: { entity: 'product', system: 'sap' } }] },
        warehouse: { from: 'LGORT', transforms: [{ lookup: { entity: 'warehouse', system: 'sap', onMissing: 'keep' } }] },
        quantity: { from: 'LABST', transforms: ['decimal'] },
      },
    };
    const fn = await compileMapping(m, { system: 'onec', lookups: dbLookups(t.db) });
    expect(fn({ MATNR: '000000000000100002', LGORT: '000000000000100001', LABST: '7,000' })).toEqual({ ok: true, value: { product: 'c3d4-guid', warehouse: 'WH-MAIN', quantity: '7.000' } });
    expect(fn({ MATNR: '000000000000100002', LGORT: 'OTHER', LABST: '1' })).toMatchObject({ ok: true, value: { warehouse: 'OTHER' } });
    expect(fn({ MATNR: '000000000000100003', LGORT: 'X', LABST: '1' })).toEqual({
      ok: false, field: 'product', rule: 'lookup', reason: 'product: product "000000000000100003" of system "sap" has no id in system "onec" (transform lookup)',
    });
  });
});
