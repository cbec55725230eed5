// What the drain hands to port.receive: the entities it fetched as the pull's records (../records.ts:
// the same fields and `_kind`, so an events flow maps them with the pull's mapping), one NDJSON line each.
import { companyRecord, contactRecord, deletedRecord, requisiteRecord, type Rec, type Row } from '../records.ts';
import type { Bitrix24Options } from '../options.ts';
import type { EventEntity } from './form.ts';

export type { Rec } from '../records.ts';

/** Bitrix24's entity type id of a company (a requisite's ENTITY_TYPE_ID). */
const COMPANY_TYPE_ID = '4';

export const KIND_OF: Readonly<Record<Exclude<EventEntity, 'deal'>, string>> = {
  company: 'bitrix24.company', contact: 'bitrix24.contact', requisite: 'bitrix24.requisite',
};

/**
 * A fetched entity as the pull's record, or why it is none: a requisite of something other than a
 * company, or of a preset the flow reads neither as a legal entity nor as a sole proprietor.
 */
export function recordOf(entity: Exclude<EventEntity, 'deal'>, row: Row, bank: Row | undefined, o: Pick<Bitrix24Options, 'presets'>): Rec | string {
  if (entity === 'company') return companyRecord(row);
  if (entity === 'contact') return contactRecord(row);
  const type = String(row.ENTITY_TYPE_ID ?? '');
  if (type !== COMPANY_TYPE_ID) return `belongs to entity type ${type || '?'}, not a company; not a client's legal entity`;
  const preset = String(row.PRESET_ID ?? '');
  const kind = o.presets.legalEntity.includes(preset) ? 'legal' : o.presets.soleProprietor.includes(preset) ? 'sole' : undefined;
  if (!kind) return `preset ${preset || '?'} is neither a legal entity (${o.presets.legalEntity.join(', ')}) nor a sole proprietor (${o.presets.soleProprietor.join(', ')}) in the flow's presets`;
  return requisiteRecord(row, kind, bank);
}

/** A deleted entity: its last fetched record marked DELETED (the name kept), else the pull's note record. */
export function deletedOf(entity: Exclude<EventEntity, 'deal'>, id: string, copy: Rec | undefined): Rec {
  return copy ? { ...copy, DELETED: 'Y' } : deletedRecord(KIND_OF[entity], id);
}

/** NDJSON bytes of records. */
export function ndjson(records: readonly Rec[]): Buffer {
  return Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''), 'utf8');
}
