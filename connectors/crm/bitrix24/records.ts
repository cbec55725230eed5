// Bitrix24 entities as the flat string records of a pulled payload (one NDJSON line each, `_kind`
// naming the mapping): multi-fields (PHONE, EMAIL) reduced to their first work value, person names
// joined, a requisite's preset read as a legal entity or a sole proprietor. Deleted entities found by
// a full key scan become records with DELETED = Y.

export type Row = Record<string, unknown>;
export type Rec = Record<string, string>;

function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return '';
  return String(v as string | number | boolean).trim();
}

/** The first value of a multi-field (`PHONE: [{ VALUE, VALUE_TYPE }]`), a WORK one first. */
export function firstMulti(v: unknown): string {
  if (!Array.isArray(v)) return text(v);
  const items = v as Array<{ VALUE?: unknown; VALUE_TYPE?: unknown }>;
  const work = items.find((x) => x && x.VALUE_TYPE === 'WORK' && text(x.VALUE));
  return text((work ?? items.find((x) => x && text(x.VALUE)))?.VALUE);
}

function person(r: Row, last = 'LAST_NAME', first = 'NAME', second = 'SECOND_NAME'): string {
  return [text(r[last]), text(r[first]), text(r[second])].filter(Boolean).join(' ');
}

function put(out: Rec, k: string, v: string): void {
  if (v) out[k] = v;
}

export const COMPANY_SELECT = ['ID', 'TITLE', 'COMPANY_TYPE', 'ASSIGNED_BY_ID', 'PHONE', 'EMAIL', 'DATE_MODIFY'];
export function companyRecord(r: Row): Rec {
  const out: Rec = { _kind: 'bitrix24.company', ID: text(r.ID) };
  put(out, 'TITLE', text(r.TITLE));
  put(out, 'COMPANY_TYPE', text(r.COMPANY_TYPE));
  put(out, 'ASSIGNED_BY_ID', text(r.ASSIGNED_BY_ID));
  put(out, 'PHONE', firstMulti(r.PHONE));
  put(out, 'EMAIL', firstMulti(r.EMAIL));
  put(out, 'DATE_MODIFY', text(r.DATE_MODIFY));
  return out;
}

export const CONTACT_SELECT = ['ID', 'NAME', 'LAST_NAME', 'SECOND_NAME', 'POST', 'PHONE', 'EMAIL', 'COMPANY_ID', 'DATE_MODIFY'];
export function contactRecord(r: Row): Rec {
  const out: Rec = { _kind: 'bitrix24.contact', ID: text(r.ID) };
  put(out, 'FULL_NAME', person(r));
  put(out, 'POST', text(r.POST));
  put(out, 'PHONE', firstMulti(r.PHONE));
  put(out, 'EMAIL', firstMulti(r.EMAIL));
  // COMPANY_ID is the contact's first company; every company it is linked to is in the links flow.
  const company = text(r.COMPANY_ID);
  if (company && company !== '0') out.COMPANY_ID = company;
  put(out, 'DATE_MODIFY', text(r.DATE_MODIFY));
  return out;
}

export const REQUISITE_SELECT = ['ID', 'ENTITY_TYPE_ID', 'ENTITY_ID', 'PRESET_ID', 'NAME', 'RQ_COMPANY_NAME', 'RQ_COMPANY_FULL_NAME', 'RQ_NAME',
  'RQ_LAST_NAME', 'RQ_FIRST_NAME', 'RQ_SECOND_NAME', 'RQ_INN', 'RQ_KPP', 'RQ_OGRN', 'RQ_OGRNIP', 'DATE_MODIFY'];
export type RequisiteKind = 'legal' | 'sole';

/** A company's requisite and its first bank detail (crm.requisite.bankdetail.list) as one legal entity. */
export function requisiteRecord(r: Row, kind: RequisiteKind, bank: Row | undefined): Rec {
  const out: Rec = { _kind: 'bitrix24.requisite', ID: text(r.ID), COMPANY_ID: text(r.ENTITY_ID), PRESET_ID: text(r.PRESET_ID), KIND: kind };
  if (kind === 'legal') {
    put(out, 'NAME', text(r.RQ_COMPANY_NAME) || text(r.NAME));
    put(out, 'FULL_NAME', text(r.RQ_COMPANY_FULL_NAME));
    put(out, 'KPP', text(r.RQ_KPP));
    put(out, 'OGRN', text(r.RQ_OGRN));
  } else {
    const name = text(r.RQ_NAME) || person(r, 'RQ_LAST_NAME', 'RQ_FIRST_NAME', 'RQ_SECOND_NAME');
    put(out, 'NAME', name ? (/^ИП\s/i.test(name) ? name : `ИП ${name}`) : text(r.NAME));
    put(out, 'OGRN', text(r.RQ_OGRNIP) || text(r.RQ_OGRN));
  }
  put(out, 'INN', text(r.RQ_INN));
  if (bank) {
    put(out, 'BANK_NAME', text(bank.RQ_BANK_NAME));
    put(out, 'BIK', text(bank.RQ_BIK));
    put(out, 'ACCOUNT', text(bank.RQ_ACC_NUM));
    put(out, 'COR_ACCOUNT', text(bank.RQ_COR_ACC_NUM));
  }
  put(out, 'DATE_MODIFY', text(r.DATE_MODIFY));
  return out;
}

export const USER_SELECT = ['ID', 'ACTIVE', 'NAME', 'LAST_NAME', 'SECOND_NAME', 'EMAIL', 'WORK_PHONE', 'PERSONAL_MOBILE', 'PERSONAL_PHONE', 'PERSONAL_PHOTO'];
export function userRecord(r: Row): Rec {
  const out: Rec = { _kind: 'bitrix24.user', ID: text(r.ID) };
  put(out, 'FULL_NAME', person(r) || text(r.EMAIL));
  put(out, 'EMAIL', text(r.EMAIL));
  put(out, 'PHONE', text(r.WORK_PHONE) || text(r.PERSONAL_MOBILE) || text(r.PERSONAL_PHONE));
  // The cloud answers the photo as a URL; a boxed portal may answer a file id, which is no URL to show.
  const photo = text(r.PERSONAL_PHOTO);
  if (/^https?:\/\//.test(photo)) out.PHOTO_URL = photo;
  out.ACTIVE = r.ACTIVE === false || r.ACTIVE === 'N' || r.ACTIVE === 'false' ? 'N' : 'Y';
  return out;
}

/** A contact acting for a company's legal entity: one per (contact, requisite) of each company link. */
export function linkRecord(company: string, contact: string, requisite: string, primary: boolean): Rec {
  return { _kind: 'bitrix24.contact-link', COMPANY_ID: company, CONTACT_ID: contact, REQUISITE_ID: requisite, IS_PRIMARY: primary ? 'Y' : 'N' };
}

/**
 * An entity the full key scan no longer finds. Its name is gone with it, but the canonical row needs
 * one: the record says where it went (the merge then marks the row deleted, the client blocked).
 */
export function deletedRecord(kind: string, id: string): Rec {
  const what = kind === 'bitrix24.company' ? 'Компания' : kind === 'bitrix24.contact' ? 'Контакт' : 'Реквизит';
  return { _kind: kind, ID: id, DELETED: 'Y', DELETED_NAME: `${what} ${id} удалён(а) в Битрикс24` };
}
