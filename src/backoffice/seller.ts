// The seller's requisites printed on generated documents (the invoice's bank block and supplier), kept
// in portal_settings under `seller.*`: set by `magistral settings set`, the admin API or `magistral
// demo`. Incomplete requisites give the list of what is missing, never a half-filled invoice.
import type { Kysely } from 'kysely';
import type { Database } from '../db/index.ts';

type Db = Kysely<Database>;

export interface Seller {
  name: string;
  inn: string;
  kpp: string | null;
  ogrn: string | null;
  address: string;
  bank: string;
  bik: string;
  account: string;
  corrAccount: string;
  /** VAT rate in percent as a decimal string ('22': Russia's rate from 2026; '0': without VAT). */
  vatPercent: string;
}

/** Each key with what it is (Russian, for the reason shown to a manager) and how it is checked. */
export const SELLER_SETTINGS: Record<string, { label: string; required: boolean; pattern?: RegExp; hint?: string }> = {
  'seller.name': { label: 'наименование продавца', required: true },
  'seller.inn': { label: 'ИНН продавца', required: true, pattern: /^([0-9]{10}|[0-9]{12})$/, hint: '10 или 12 цифр' },
  'seller.kpp': { label: 'КПП продавца', required: false, pattern: /^[0-9]{4}[0-9A-Z]{2}[0-9]{3}$/, hint: '9 знаков' },
  'seller.ogrn': { label: 'ОГРН продавца', required: false, pattern: /^([0-9]{13}|[0-9]{15})$/, hint: '13 или 15 цифр' },
  'seller.address': { label: 'адрес продавца', required: true },
  'seller.bank': { label: 'банк продавца', required: true },
  'seller.bik': { label: 'БИК банка', required: true, pattern: /^[0-9]{9}$/, hint: '9 цифр' },
  'seller.account': { label: 'расчётный счёт', required: true, pattern: /^[0-9]{20}$/, hint: '20 цифр' },
  'seller.corrAccount': { label: 'корреспондентский счёт', required: true, pattern: /^[0-9]{20}$/, hint: '20 цифр' },
  'seller.vatPercent': { label: 'ставка НДС', required: false, pattern: /^([0-9]|[1-9][0-9])(\.[0-9]{1,2})?$/, hint: 'число процентов, например 22' },
};

export const DEFAULT_VAT_PERCENT = '22';

export type SellerResult = { ok: true; seller: Seller } | { ok: false; missing: string[] };

/** The seller, or the Russian names of the requisites still missing or invalid. */
export async function readSeller(db: Db): Promise<SellerResult> {
  const rows = await db.selectFrom('portal_settings').select(['key', 'value']).where('key', 'like', 'seller.%').execute();
  const v = new Map(rows.map((r) => [r.key, r.value.trim()]));
  const missing: string[] = [];
  for (const [key, spec] of Object.entries(SELLER_SETTINGS)) {
    const value = v.get(key) ?? '';
    if (!value) {
      if (spec.required) missing.push(spec.label);
    } else if (spec.pattern && !spec.pattern.test(value)) {
      missing.push(`${spec.label} (неверное значение: ${spec.hint})`);
    }
  }
  if (missing.length) return { ok: false, missing };
  const get = (k: string): string => v.get(k) ?? '';
  return {
    ok: true,
    seller: {
      name: get('seller.name'), inn: get('seller.inn'), kpp: get('seller.kpp') || null, ogrn: get('seller.ogrn') || null, address: get('seller.address'),
      bank: get('seller.bank'), bik: get('seller.bik'), account: get('seller.account'), corrAccount: get('seller.corrAccount'),
      vatPercent: get('seller.vatPercent') || DEFAULT_VAT_PERCENT,
    },
  };
}

/**
 * Sets one portal setting. A `seller.*` key must be one of SELLER_SETTINGS and its value pass the check
 * (an INN of 10 or 12 digits …); an empty value removes the setting. Throws a message naming the key.
 */
export async function setPortalSetting(db: Db, key: string, value: string): Promise<void> {
  const v = value.trim();
  if (key.startsWith('seller.')) {
    const spec = SELLER_SETTINGS[key];
    if (!spec) throw new Error(`unknown seller setting '${key}' (known: ${Object.keys(SELLER_SETTINGS).join(', ')})`);
    if (v && spec.pattern && !spec.pattern.test(v)) throw new Error(`${key}: '${v.slice(0, 60)}' is not valid (${spec.hint})`);
  } else if (!/^[a-z][a-zA-Z0-9_.-]{0,80}$/.test(key)) {
    throw new Error(`'${key.slice(0, 80)}' is not a setting key`);
  }
  if (!v) {
    await db.deleteFrom('portal_settings').where('key', '=', key).execute();
    return;
  }
  await db.insertInto('portal_settings').values({ key, value: v })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: v, updated_at: new Date() })).execute();
  // Invoices waiting for the requisites are tried again at once, not after their backoff.
  if (key.startsWith('seller.')) await db.updateTable('document_jobs').set({ next_attempt_at: new Date(), attempts: 0 }).where('done_at', 'is', null).execute();
}

/** Every portal setting (for `magistral settings list`). */
export async function listPortalSettings(db: Db): Promise<Array<{ key: string; value: string }>> {
  return db.selectFrom('portal_settings').select(['key', 'value']).orderBy('key').execute();
}

/** Demo requisites (`magistral demo`): a fictitious seller with a valid shape. */
export const DEMO_SELLER: Record<string, string> = {
  'seller.name': 'ООО «Магистраль-Опт»',
  'seller.inn': '7701000013',
  'seller.kpp': '770101001',
  'seller.ogrn': '1027700000010',
  'seller.address': '123100, г. Москва, Пресненская наб., д. 10',
  'seller.bank': 'ПАО Сбербанк, г. Москва',
  'seller.bik': '044525225',
  'seller.account': '40702810400000012345',
  'seller.corrAccount': '30101810400000000225',
  'seller.vatPercent': DEFAULT_VAT_PERCENT,
};

/** What a reconciliation act prints of the seller: whatever is set (an act needs no bank details), never an empty name. */
export interface SellerHeading {
  name: string;
  inn: string | null;
  kpp: string | null;
  address: string | null;
}

export async function readSellerHeading(db: Db): Promise<SellerHeading> {
  const rows = await db.selectFrom('portal_settings').select(['key', 'value']).where('key', 'in', ['seller.name', 'seller.inn', 'seller.kpp', 'seller.address']).execute();
  const get = (k: string): string | null => rows.find((r) => r.key === `seller.${k}`)?.value?.trim() || null;
  return { name: get('name') ?? 'Продавец', inn: get('inn'), kpp: get('kpp'), address: get('address') };
}
