// The seller's requisites printed on the portal's documents (invoices, reconciliation acts): the
// portal_settings keys `seller.*`, set by an operator. A key not set prints as absent; the name falls
// back to a neutral word so a document is never headed by an empty line.
import type { Kysely } from 'kysely';
import type { Database } from '../db/index.ts';

export interface Seller {
  name: string;
  inn: string | null;
  kpp: string | null;
  address: string | null;
  bank: string | null;
  bik: string | null;
  account: string | null;
  corrAccount: string | null;
}

export const SELLER_KEYS = ['name', 'inn', 'kpp', 'address', 'bank', 'bik', 'account', 'corrAccount'] as const;

export async function readSeller(db: Kysely<Database>): Promise<Seller> {
  const rows = await db.selectFrom('portal_settings').select(['key', 'value']).where('key', 'in', SELLER_KEYS.map((k) => `seller.${k}`)).execute();
  const get = (k: string): string | null => rows.find((r) => r.key === `seller.${k}`)?.value?.trim() || null;
  return {
    name: get('name') ?? 'Продавец', inn: get('inn'), kpp: get('kpp'), address: get('address'), bank: get('bank'), bik: get('bik'),
    account: get('account'), corrAccount: get('corrAccount'),
  };
}
