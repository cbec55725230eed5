// Bitrix24 entities as flat payload records (one NDJSON line each, every value a string), the shape the
// mappings in mappings/crm/ read: scalar fields as Bitrix24 names them, a multi-field (PHONE, EMAIL) as
// its first value, DELETED 'true' | 'false'.

export type FlatRecord = Record<string, string>;

interface MultiValue { VALUE?: unknown; VALUE_TYPE?: unknown }

/** A Bitrix24 entity (crm.company.get …) as a flat record; `deleted` marks it deleted in the CRM. */
export function flatten(entity: Record<string, unknown>, deleted = false): FlatRecord {
  const out: FlatRecord = {};
  for (const [k, v] of Object.entries(entity)) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else if (Array.isArray(v)) {
      // A multi-field: the first non-empty VALUE (the work phone before the others when typed so).
      const values = (v as MultiValue[]).filter((x) => x && typeof x === 'object' && typeof x.VALUE === 'string' && x.VALUE.trim());
      const first = values.find((x) => x.VALUE_TYPE === 'WORK') ?? values[0];
      if (first) out[k] = String(first.VALUE);
      else if (v.every((x) => typeof x === 'string' || typeof x === 'number')) out[k] = v.join(',');
    }
  }
  out.DELETED = deleted ? 'true' : 'false';
  return out;
}

/** A requisite with its first bank detail's fields (RQ_BIK, RQ_ACC_NUM, RQ_COR_ACC_NUM, RQ_BANK_NAME) added. */
export function withBank(requisite: FlatRecord, bank: Record<string, unknown> | undefined): FlatRecord {
  if (!bank) return requisite;
  const out = { ...requisite };
  for (const k of ['RQ_BIK', 'RQ_ACC_NUM', 'RQ_COR_ACC_NUM', 'RQ_BANK_NAME']) {
    const v = bank[k];
    if (typeof v === 'string' && v.trim() && !out[k]) out[k] = v;
  }
  return out;
}

/**
 * A requisite's helper fields for the mapping: LEGAL_NAME (the company's name, else a sole proprietor's
 * RQ_NAME, else the requisite's own NAME) and OGRN (RQ_OGRN, else a sole proprietor's RQ_OGRNIP).
 */
export function requisiteHelpers(r: FlatRecord): FlatRecord {
  const first = (...keys: string[]): string | undefined => keys.map((k) => r[k]?.trim()).find((v) => v);
  const legal = first('RQ_COMPANY_NAME', 'RQ_NAME', 'NAME');
  const ogrn = first('RQ_OGRN', 'RQ_OGRNIP');
  return { ...r, ...(legal ? { LEGAL_NAME: legal } : {}), ...(ogrn ? { OGRN: ogrn } : {}) };
}

/** NDJSON bytes of records. */
export function ndjson(records: readonly FlatRecord[]): Buffer {
  return Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''), 'utf8');
}
