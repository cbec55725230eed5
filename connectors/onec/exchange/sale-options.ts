// The flow options of the 1C sale exchange (`type=sale`): schema fragment for the onec.commerceml
// connector's optionsSchema, and the settings the handlers work with, defaults filled.
import { SALE_ENCODINGS, SALE_VERSIONS, type SaleEncoding, type SaleVersion } from '../commerceml/order-writer.ts';
import { DEFAULT_SALE_TIME_ZONE } from './sale-time.ts';

const named = {
  type: 'array',
  items: {
    type: 'object', additionalProperties: false, required: ['id', 'name'],
    properties: { id: { type: 'string', minLength: 1 }, name: { type: 'string', minLength: 1 }, type: { type: 'string' } },
  },
};

/** JSON Schema properties to merge into the connector's `optionsSchema.properties`. */
export const saleOptionsProperties = {
  saleVersion: { type: 'string', enum: [...SALE_VERSIONS], default: '2.05', description: 'CommerceML version of the orders sent to 1C (mode=query); 2.05 like 1C-Bitrix.' },
  saleEncoding: { type: 'string', enum: [...SALE_ENCODINGS], default: 'windows-1251', description: 'Encoding of mode=query and mode=info answers; characters outside windows-1251 are sent as character references.' },
  saleTimeZone: { type: 'string', minLength: 1, default: DEFAULT_SALE_TIME_ZONE, description: 'IANA zone of the wall-clock dates 1C writes and reads.' },
  saleQueryLimit: { type: 'integer', minimum: 1, maximum: 10000, default: 500, description: 'At most this many orders per mode=query; the rest go in the next exchange.' },
  saleSite: { type: 'string', default: '[s1] Magistral', description: 'Value of the «Сайт» requisite.' },
  salePaymentMethod: { type: 'string', description: 'Value of the «Метод оплаты» requisite (omitted when unset).' },
  saleCatalogId: { type: 'string', description: 'ИдКаталога written on each order line (the 1C catalog the site was loaded from).' },
  saleCurrencyNames: { type: 'object', additionalProperties: { type: 'string' }, description: 'Currency as written to 1C per ISO code, e.g. {"RUB": "руб"}.' },
  saleStatusMap: { type: 'object', additionalProperties: { type: 'string' }, description: "1C status code or name → our status code (overrides matching by code/name and 1C-Bitrix's letters N, P, F)." },
  salePaymentSystems: { ...named, description: 'mode=info ПлатежныеСистемы (Ид, Название, ТипОплаты).' },
  saleDeliveryServices: { ...named, description: 'mode=info СлужбыДоставки (Ид, Название).' },
} as const;

export interface NamedItem {
  id: string;
  name: string;
  type?: string;
}

export interface SaleSettings {
  flowId: number;
  /** The flow's `source.system`: whose external ids (products, legal entities) 1C knows. */
  system: string;
  version: SaleVersion;
  encoding: SaleEncoding;
  timeZone: string;
  queryLimit: number;
  site: string;
  paymentMethod?: string;
  catalogId?: string;
  currencyNames: Record<string, string>;
  statusMap: Record<string, string>;
  paymentSystems: NamedItem[];
  deliveryServices: NamedItem[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const dict = (v: unknown): Record<string, string> =>
  v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<string, string> : {};
const list = (v: unknown): NamedItem[] => (Array.isArray(v) ? v.filter((x): x is NamedItem => !!x && typeof x.id === 'string' && typeof x.name === 'string') : []);

/** Settings from a flow's stored options (already validated; defaults filled here for flows stored before). */
export function saleSettings(flow: { id: number; system?: string; options?: Record<string, unknown> }): SaleSettings {
  const o = flow.options ?? {};
  const version = (SALE_VERSIONS as readonly string[]).includes(o.saleVersion as string) ? (o.saleVersion as SaleVersion) : '2.05';
  const encoding = (SALE_ENCODINGS as readonly string[]).includes(o.saleEncoding as string) ? (o.saleEncoding as SaleEncoding) : 'windows-1251';
  const limit = typeof o.saleQueryLimit === 'number' && o.saleQueryLimit >= 1 ? Math.floor(o.saleQueryLimit) : 500;
  const paymentMethod = str(o.salePaymentMethod);
  const catalogId = str(o.saleCatalogId);
  return {
    flowId: flow.id,
    system: flow.system ?? 'local',
    version,
    encoding,
    timeZone: str(o.saleTimeZone) ?? DEFAULT_SALE_TIME_ZONE,
    queryLimit: limit,
    site: typeof o.saleSite === 'string' ? o.saleSite : '[s1] Magistral',
    ...(paymentMethod ? { paymentMethod } : {}),
    ...(catalogId ? { catalogId } : {}),
    currencyNames: dict(o.saleCurrencyNames),
    statusMap: dict(o.saleStatusMap),
    paymentSystems: list(o.salePaymentSystems),
    deliveryServices: list(o.saleDeliveryServices),
  };
}
