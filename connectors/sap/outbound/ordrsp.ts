// ORDRSP back from SAP (basic type ORDERS05, message type ORDRSP: the order confirmation SD sends
// through output type BA00): each IDoc names our order and SAP's, and its action says what SAP did.
// The endpoint (/exchange/sap/idoc/:flow) stores the message and calls handleOrderResponses with the
// stored file; the changes go onto the portal orders through the orders port, in one transaction.
//
// Read per IDoc (the sample /work/shared/samples/sap/ORDERS05_ORDRSP_outbound_SAP-samples.xml):
//   EDI_DC40  DOCNUM (named in the report), MESTYP (ORDRSP only; others are reported and skipped)
//   E1EDK01   BELNR = SAP's sales order number; ACTION (EDI 1225: 000 unchanged, 001 added, 002 changed,
//             003 deleted, 004 header changed, 005 replaced) → portal status by the `statuses` table
//   E1EDK02   QUALF 001 BELNR = the customer's purchase order number = our order number (ORDERS05 sent it);
//             QUALF 002 BELNR / DATUM = SAP's order number and date (used when E1EDK01 BELNR is empty)
//   E1EDKA1   PARVW AG: PARTN = the sold-to customer; E1EDP01 MENGE, MENEE, VPREI, NETWR with E1EDP19 QUALF
//             002 IDTNR = the material; E1EDS01 SUMID 002 SUMME = the total — read for an order made in SAP
//             (no portal order matches it), which becomes an offline order through the orders port.
import { createReadStream } from 'node:fs';
import { XmlScanner } from '../../lib/index.ts';
import type { ConnectorPort, ExternalOrderChange, OrderChange } from '../../../src/port/index.ts';

/** ACTION → portal status code (and whether the order is cancelled). SAP confirms what it took; 003 = deleted. */
export const DEFAULT_ORDRSP_STATUSES: Readonly<Record<string, string>> = {
  '000': 'confirmed', '001': 'confirmed', '002': 'confirmed', '004': 'confirmed', '005': 'confirmed', '003': 'cancelled',
};

export interface OrderResponseOptions {
  /** E1EDK01 ACTION → portal status code; an action absent here changes no status. @defaultValue DEFAULT_ORDRSP_STATUSES */
  statuses?: Readonly<Record<string, string>>;
  /** Recorded as the change's source in the order's history. @defaultValue sap-ordrsp */
  source?: string;
  /** Whose external ids the customer and material numbers are (an order made in SAP is resolved by them). @defaultValue sap */
  system?: string;
}

export interface OrderResponseItem {
  docnum: string | null;
  /** Our order number (E1EDK02 QUALF 001), SAP's (E1EDK01 BELNR). */
  number: string | null;
  erpNumber: string | null;
  status: string | null;
}

export interface OrderResponsesReport {
  /** IDocs in the file. */
  idocs: number;
  /** ORDRSP IDocs applied (changed or unchanged). */
  responses: number;
  changed: number;
  unchanged: number;
  notFound: number;
  /** Orders made in SAP (no portal order matched) created as offline orders. */
  created: number;
  /** IDocs that are not ORDRSP, or name no order. */
  skipped: number;
  items: OrderResponseItem[];
  warnings: string[];
}

const NAMES = ['IDOC', 'EDI_DC40', 'DOCNUM', 'MESTYP', 'E1EDK01', 'ACTION', 'BELNR', 'E1EDK02', 'QUALF', 'DATUM', 'CURCY', 'E1EDKA1', 'PARVW', 'PARTN',
  'NAME1', 'E1EDP01', 'MENGE', 'MENEE', 'VPREI', 'NETWR', 'E1EDP19', 'IDTNR', 'KTEXT', 'E1EDS01', 'SUMID', 'SUMME'] as const;
const [IDOC, EDI_DC40, DOCNUM, MESTYP, E1EDK01, ACTION, BELNR, E1EDK02, QUALF, DATUM, CURCY, E1EDKA1, PARVW, PARTN, NAME1, E1EDP01, MENGE, MENEE, VPREI, NETWR,
  E1EDP19, IDTNR, KTEXT, E1EDS01, SUMID, SUMME] = NAMES.map((_, i) => i);

interface Item {
  menge: string;
  menee: string;
  vprei: string;
  netwr: string;
  /** E1EDP19 QUALF 002: SAP's material number, with its short text. */
  material: string;
  ktext: string;
}

interface Idoc {
  docnum: string | null;
  mestyp: string | null;
  line: number;
  action: string | null;
  belnr: string | null;
  currency: string | null;
  refs: Array<{ qualf: string; belnr: string; datum: string }>;
  /** E1EDKA1 PARVW AG: the sold-to party (SAP's customer number and name). */
  soldTo: { partn: string; name: string } | null;
  items: Item[];
  /** E1EDS01 SUMID 002: the order's total. */
  total: string | null;
}

/** Reads the IDocs' header data (streamed: a file of many IDocs holds only one IDoc's header at a time, plus the list). */
export async function readOrderResponses(file: { path: string; fileName: string }): Promise<Idoc[]> {
  const idocs: Idoc[] = [];
  let cur: Idoc | undefined;
  let segment = -1;
  let sub = -1;
  let ref: { qualf: string; belnr: string; datum: string } | undefined;
  let party: { parvw: string; partn: string; name: string } | undefined;
  let item: Item | undefined;
  let p19: { qualf: string; idtnr: string; ktext: string } | undefined;
  let sum: { sumid: string; summe: string } | undefined;
  const scanner = new XmlScanner({ fileName: file.fileName, names: NAMES, format: 'IDoc-XML (ORDRSP)' }, {
    open(name, depth) {
      if (depth === 2 && name === IDOC) {
        cur = { docnum: null, mestyp: null, line: scanner.currentLine(), action: null, belnr: null, currency: null, refs: [], soldTo: null, items: [], total: null };
        return false;
      }
      if (!cur) return false;
      if (depth === 3) {
        segment = name;
        if (name === E1EDK02) ref = { qualf: '', belnr: '', datum: '' };
        else if (name === E1EDKA1) party = { parvw: '', partn: '', name: '' };
        else if (name === E1EDP01) item = { menge: '', menee: '', vprei: '', netwr: '', material: '', ktext: '' };
        else if (name === E1EDS01) sum = { sumid: '', summe: '' };
        return false;
      }
      if (depth === 4) {
        if (segment === EDI_DC40) return name === DOCNUM || name === MESTYP;
        if (segment === E1EDK01) return name === ACTION || name === BELNR || name === CURCY;
        if (segment === E1EDK02) return name === QUALF || name === BELNR || name === DATUM;
        if (segment === E1EDKA1) return name === PARVW || name === PARTN || name === NAME1;
        if (segment === E1EDS01) return name === SUMID || name === SUMME;
        if (segment === E1EDP01) {
          sub = name;
          if (name === E1EDP19) p19 = { qualf: '', idtnr: '', ktext: '' };
          return name === MENGE || name === MENEE || name === VPREI || name === NETWR;
        }
        return false;
      }
      if (depth === 5 && segment === E1EDP01 && sub === E1EDP19) return name === QUALF || name === IDTNR || name === KTEXT;
      return false;
    },
    close(name, depth, text) {
      if (!cur) return;
      const v = text.trim();
      if (depth === 5 && p19) {
        if (name === QUALF) p19.qualf = v;
        else if (name === IDTNR) p19.idtnr = v;
        else if (name === KTEXT) p19.ktext = v;
      } else if (depth === 4) {
        if (segment === EDI_DC40 && name === DOCNUM) cur.docnum = v.replace(/^0+(?=\d)/, '');
        else if (segment === EDI_DC40 && name === MESTYP) cur.mestyp = v;
        else if (segment === E1EDK01 && name === ACTION) cur.action = v;
        else if (segment === E1EDK01 && name === BELNR) cur.belnr = v;
        else if (segment === E1EDK01 && name === CURCY) cur.currency = v;
        else if (segment === E1EDK02 && ref) {
          if (name === QUALF) ref.qualf = v;
          else if (name === BELNR) ref.belnr = v;
          else if (name === DATUM) ref.datum = v;
        } else if (segment === E1EDKA1 && party) {
          if (name === PARVW) party.parvw = v;
          else if (name === PARTN) party.partn = v;
          else if (name === NAME1) party.name = v;
        } else if (segment === E1EDS01 && sum) {
          if (name === SUMID) sum.sumid = v;
          else if (name === SUMME) sum.summe = v;
        } else if (segment === E1EDP01 && item) {
          if (name === MENGE) item.menge = v;
          else if (name === MENEE) item.menee = v;
          else if (name === VPREI) item.vprei = v;
          else if (name === NETWR) item.netwr = v;
          else if (name === E1EDP19 && p19) {
            if (p19.qualf === '002' && p19.idtnr) {
              item.material = p19.idtnr;
              item.ktext = p19.ktext;
            }
            p19 = undefined;
          }
          sub = -1;
        }
      } else if (depth === 3) {
        if (name === E1EDK02 && ref) cur.refs.push(ref);
        else if (name === E1EDKA1 && party?.parvw === 'AG' && party.partn) cur.soldTo = { partn: party.partn, name: party.name };
        else if (name === E1EDP01 && item) cur.items.push(item);
        else if (name === E1EDS01 && sum?.sumid === '002' && sum.summe) cur.total = sum.summe;
        ref = undefined;
        party = undefined;
        item = undefined;
        sum = undefined;
        segment = -1;
      } else if (depth === 2 && name === IDOC) {
        idocs.push(cur);
        cur = undefined;
      }
    },
  });
  for await (const chunk of createReadStream(file.path)) scanner.write(chunk as Buffer);
  scanner.end();
  return idocs;
}

/** YYYYMMDD → a date at midnight UTC, or undefined. */
function sapDate(s: string | undefined): Date | undefined {
  const m = s && /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (!m || m[1] === '0000') return undefined;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * Applies the ORDRSP IDocs of a stored file to the portal orders: SAP's number and date, and the status
 * the IDoc's action maps to. Finds our order by E1EDK02 QUALF 001 (our number), else by SAP's number.
 * Throws PayloadError (file, line, column, element path) when the XML cannot be read; nothing is applied then.
 */
export async function handleOrderResponses(port: Pick<ConnectorPort, 'orders' | 'log'>, file: { path: string; fileName: string }, opts: OrderResponseOptions = {}): Promise<OrderResponsesReport> {
  const idocs = await readOrderResponses(file);
  const statuses = opts.statuses ?? DEFAULT_ORDRSP_STATUSES;
  const known = new Set((await port.orders.statuses()).map((s) => s.code));
  const report: OrderResponsesReport = { idocs: idocs.length, responses: 0, changed: 0, unchanged: 0, notFound: 0, created: 0, skipped: 0, items: [], warnings: [] };
  const changes: ExternalOrderChange[] = [];
  const applied: OrderResponseItem[] = [];
  for (const d of idocs) {
    const label = `${file.fileName}: IDoc ${d.docnum ?? '?'} (line ${d.line})`;
    if (d.mestyp !== 'ORDRSP') {
      report.skipped++;
      report.warnings.push(`${label}: message type ${d.mestyp ?? '(none)'} is not ORDRSP; skipped`);
      continue;
    }
    const ours = d.refs.find((r) => r.qualf === '001' && r.belnr);
    const sapRef = d.refs.find((r) => r.qualf === '002' && r.belnr);
    const erpNumber = d.belnr || sapRef?.belnr || null;
    if (!ours && !erpNumber) {
      report.skipped++;
      report.warnings.push(`${label}: names no order (no E1EDK02 QUALF 001 BELNR, no E1EDK01 BELNR); skipped`);
      continue;
    }
    const warnings: string[] = [];
    const change: OrderChange = {};
    if (erpNumber) change.erpNumber = erpNumber;
    const erpDate = sapDate(sapRef?.datum);
    if (erpDate) change.erpDate = erpDate;
    const status = d.action ? statuses[d.action] : undefined;
    if (status && known.has(status)) {
      change.status = status;
      if (status === 'cancelled') change.cancelled = true;
    } else if (status) warnings.push(`${label}: status '${status}' for ACTION ${d.action} is not a portal order status; the status is left as it is`);
    // An ORDRSP answers one state of the order; a later status (shipped, set by another message) stays.
    // An order made in SAP (by phone, by a sales clerk): when no portal order matches, it is created as an offline order.
    const offline = erpNumber && d.soldTo && d.items.length ? {
      system: opts.system ?? 'sap', erpNumber, erpDate: erpDate ?? null, currency: d.currency, total: d.total, comment: null, label,
      buyer: { externalId: d.soldTo.partn, inn: null, kpp: null, name: d.soldTo.name || null }, contactExternalId: null,
      lines: d.items.map((i) => ({
        externalId: i.material || null, article: null, name: i.ktext || i.material, quantity: i.menge, price: i.vprei, amount: i.netwr, unit: i.menee || null,
      })),
    } : undefined;
    changes.push({ refs: { numbers: ours ? [ours.belnr] : [], erpNumber: erpNumber ?? undefined }, change, warnings, forwardOnly: true, ...(offline ? { offline } : {}) });
    applied.push({ docnum: d.docnum, number: ours?.belnr ?? null, erpNumber, status: change.status ?? null });
  }
  if (changes.length) {
    const r = await port.orders.applyChanges(changes, opts.source ?? 'sap-ordrsp');
    report.responses = changes.length;
    report.changed = r.changed;
    report.unchanged = r.unchanged;
    report.notFound = r.notFound;
    report.created = r.created;
    report.warnings.push(...r.warnings);
  }
  report.items = applied;
  port.log.info({ file: file.fileName, idocs: report.idocs, changed: report.changed, notFound: report.notFound, created: report.created }, 'ORDRSP applied');
  return report;
}
