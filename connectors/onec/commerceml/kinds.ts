// What the CommerceML reader produces: the record kinds a flow's mapping selects, and the element
// counts `magistral dry-run` reports.

/** Record kinds the reader emits; a flow's mapping `name` selects one. */
export const RECORD_KINDS = [
  'groups', 'properties', 'propertyValues', 'products', 'productProperties', 'priceTypes', 'warehouses',
  'offers', 'prices', 'stock', 'orders', 'orderLines',
] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/**
 * Elements of the file, counted with the meanings `magistral dry-run` reports: `products` = Товар in
 * Каталог/Товары, `groups` = every Группа of the classifier at any depth, `properties` = Свойство of the
 * classifier, `priceTypes` = declared ТипЦены, `warehouses` = declared Склад, `offers` = Предложение,
 * `prices` = Цена of offers, `stock` = per-warehouse quantities of offers (both forms), `orders` = Документ.
 */
export type ElementCounts = {
  products: number;
  groups: number;
  properties: number;
  priceTypes: number;
  warehouses: number;
  offers: number;
  prices: number;
  stock: number;
  orders: number;
};

export const COUNT_KEYS: ReadonlyArray<keyof ElementCounts> = ['products', 'groups', 'properties', 'priceTypes', 'warehouses', 'offers', 'prices', 'stock', 'orders'];

export function emptyCounts(): ElementCounts {
  return { products: 0, groups: 0, properties: 0, priceTypes: 0, warehouses: 0, offers: 0, prices: 0, stock: 0, orders: 0 };
}
