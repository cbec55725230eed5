// The cabinet's catalog reads (src/cabinet/catalog.ts) on the demo data loaded through the real flows:
// a product's page priced for the client in SQL (agreement price type and discount, tiers priced
// alike), units with factors, properties, stock per warehouse of the chosen city; nothing of a
// product not on sale.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestPipeline } from '../helpers/pipeline.ts';
import { demoStore, loadUnitsAndTiers } from '../search/demo-store.ts';
import { resolvePricing } from '../../src/portal/pricing.ts';
import { cityWarehouses, productDetail, stockByWarehouse } from '../../src/cabinet/catalog.ts';
import type { CatalogScope } from '../../src/api/portal/catalog-query.ts';

let tp: TestPipeline;
const id = async (table: string, code: string) => Number((await tp.rt.pool.query(`SELECT id FROM ${table} WHERE code = $1`, [code])).rows[0].id);

/** The scope the cabinet's context builds: the city's own price type decides "on sale", pricing the client's. */
async function scopeOf(opts: { client?: string; legalEntity?: string; city: string }): Promise<CatalogScope> {
  const cityId = await id('cities', opts.city);
  const pricing = await resolvePricing(tp.rt.db, {
    clientId: opts.client ? await id('clients', opts.client) : null,
    legalEntityId: opts.legalEntity ? await id('legal_entities', opts.legalEntity) : null, cityId,
  });
  const city = await resolvePricing(tp.rt.db, { clientId: null, cityId });
  return { cityId, cityPriceTypeId: city.priceTypeId, pricing };
}

beforeAll(async () => {
  tp = await demoStore('catsvc');
  await loadUnitsAndTiers(tp);
}, 180_000);

afterAll(async () => {
  await tp?.close();
}, 120_000);

describe('productDetail', () => {
  it('prices a product and its tiers for the client (agreement price type), with the city price beside it', async () => {
    const p = (await productDetail(tp.rt.db, await scopeOf({ client: 'C1', city: 'msk' }), 'SKU-00004'))!;
    // test/fixtures/cabinet/price-periods.csv: wholesale 29893.75 with tiers from 100 and 500 m; retail 35169.12.
    expect(p).toMatchObject({ sku: 'SKU-00004', price: '29893.75', currency: 'RUB', basePrice: '35169.12', unit: 'm' });
    expect(p.tiers).toEqual([{ minQuantity: '100', price: '28399.06' }, { minQuantity: '500', price: '26904.38' }]);
    expect(p.units).toEqual([{ unit: 'бухта', factor: '100', barcode: null }]);
    expect(p.properties).toContainEqual({ name: 'Жилы × сечение, мм²', value: '2x10' });
    expect(p.path.map((g) => g.code)).toEqual(['electric', 'cables']);
    expect(p.stock).toEqual([{ warehouse: 'MSK-1', name: 'Москва, склад Южный порт', quantity: '177' }]);
  });

  it('applies the legal entity\'s agreement discount in SQL, tiers too; anonymous visitors get the city price', async () => {
    // LE2's agreement: dealer price type, 3 %: 16592.31 × 0.97 = 16094.54.
    const le2 = (await productDetail(tp.rt.db, await scopeOf({ client: 'C1', legalEntity: 'LE2', city: 'msk' }), 'SKU-00001'))!;
    expect(le2.price).toBe('16094.54');
    expect(le2.properties).toContainEqual({ name: 'Бренд', value: 'ABB' });
    expect(le2.units).toEqual([{ unit: 'коробка', factor: '12', barcode: null }]);
    const anon = (await productDetail(tp.rt.db, await scopeOf({ city: 'msk' }), 'SKU-00004'))!;
    expect(anon).toMatchObject({ price: '35169.12', basePrice: null });
    expect(anon.tiers[0]).toEqual({ minQuantity: '100', price: '33410.66' });
    // In St Petersburg the same product is stocked elsewhere only.
    const spb = (await productDetail(tp.rt.db, await scopeOf({ city: 'spb' }), 'SKU-00004'))!;
    expect(spb.stock).toEqual([{ warehouse: 'SPB-1', name: 'Санкт-Петербург, склад Парнас', quantity: '0' }]);
    expect(spb.stockElsewhere).toBe('177');
  });

  it('is null for an unknown product or one not on sale in the city', async () => {
    const scope = await scopeOf({ city: 'msk' });
    expect(await productDetail(tp.rt.db, scope, 'NO-SUCH')).toBeNull();
    await tp.rt.pool.query(`UPDATE prices SET value = 0 WHERE product_id = (SELECT id FROM products WHERE code = 'SKU-00002') AND price_type_id = $1`, [scope.cityPriceTypeId]);
    expect(await productDetail(tp.rt.db, scope, 'SKU-00002')).toBeNull();
  });
});

describe('stockByWarehouse', () => {
  it('reads the quantities of a page\'s products in the city\'s warehouses', async () => {
    const msk = await cityWarehouses(tp.rt.db, await id('cities', 'msk'));
    expect(msk.map((w) => w.code)).toEqual(['MSK-1']);
    const ids = [await id('products', 'SKU-00001'), await id('products', 'SKU-00004')];
    const s = await stockByWarehouse(tp.rt.db, ids, msk);
    expect(s.get(ids[0]!)?.get(msk[0]!.id)).toBe('332');
    expect(s.get(ids[1]!)?.get(msk[0]!.id)).toBe('177');
  });
});
