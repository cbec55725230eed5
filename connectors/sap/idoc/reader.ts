// The IDoc-XML reader: turns the tokenizer's element events of an IDoc-XML file (as SAP's XML-HTTP port,
// PI/PO and Integration Suite send it: root = basic type or extension, one or many <IDOC BEGIN="1">, the
// control record EDI_DC40 first, then segments with their fields as child elements), or the same inside a
// SOAP envelope (Envelope/Body/<basic type>/IDOC), into flat source records of the kinds of types.ts.
//
// Shape: a small segment table per message type says which segment is read under which parent (the rest
// is skipped with all it holds); a segment's fields (its leaf children) go into its own map; a record is
// emitted when the segment it stands for closes, from the control record's fields, the fields it
// inherits from its ancestors and its own. Memory holds the open segments of one IDoc and the current
// batch of records only, whatever the file size (see test/connectors/sap-idoc.test.ts, memory).
import type { Readable } from 'node:stream';
import { PayloadError, formatPosition, type SourceRecord } from '../../../src/port/index.ts';
import { RecordBatcher, XmlScanner, type ScanHandler } from '../../lib/index.ts';
import { INBOUND_MESSAGE_TYPES, messageType } from './types.ts';

/** Keys of the dry-run report, in order (see README: what each counts). */
export const COUNT_KEYS = ['idocs', 'products', 'prices', 'counterparties', 'stock', 'orders'] as const;
export type IdocCounts = Record<(typeof COUNT_KEYS)[number], number>;

export const emptyCounts = (): IdocCounts => ({ idocs: 0, products: 0, prices: 0, counterparties: 0, stock: 0, orders: 0 });

export type WarehouseKey = 'plant' | 'plantStorage';

export interface IdocReaderOptions {
  fileName: string;
  /** Record kinds to emit; absent: all. Segments only other kinds need are skipped unread. */
  kinds?: ReadonlySet<string>;
  /** EDI_DC40/MESTYP values accepted (the flow's `messageTypes`); absent: every inbound type of types.ts. */
  messageTypes?: readonly string[];
  /** Stock warehouse code: the plant (WERKS), or plant/storage location (WERKS/LGORT) when the segment has one. @defaultValue plant */
  warehouseKey?: WarehouseKey;
  /** E1KNVPM partner functions (PARVW) whose PERNR is the customer's manager, first found wins. @defaultValue ['VE', 'ZM'] */
  managerPartnerFunctions?: readonly string[];
  /**
   * Records per batch. @defaultValue 500 — a condition record carries ~40 fields; batches of 2000 outlive
   * V8's young generation and cost major collections: on a 300 MB COND_A05 file, 500 read in 5.8 s at
   * 142 MB peak RSS, 2000 in 8.5–14 s at 186 MB (2 shared cores, test/fixtures/sap/read-in-child.ts).
   */
  batchSize?: number;
  signal?: AbortSignal;
}

type Data = Record<string, string>;

// ----- vocabulary ---------------------------------------------------------------------------------
// Element and attribute names the reader decides on; every other name (most field names) is reported
// with a larger id and read by its text (scanner.nameOf).

const VOCAB = [
  'IDOC', 'EDI_DC40', 'SEGMENT', 'Envelope', 'Header', 'Body',
  // Control record fields the reader itself uses.
  'DOCNUM', 'MESTYP', 'IDOCTYP', 'CIMTYP',
  // COND_A
  'E1KOMG', 'E1KONH', 'E1KONP', 'E1KONM',
  // MATMAS
  'E1MARAM', 'E1MAKTM', 'E1MARMM', 'E1MVKEM',
  // DEBMAS
  'E1KNA1M', 'E1KNVVM', 'E1KNVPM', 'E1KNBKM', 'E1KNVKM',
  // LOISTD
  'E1MDSTL',
] as const;
type VocabName = (typeof VOCAB)[number];
const NV = VOCAB.length;
const id = (n: VocabName): number => VOCAB.indexOf(n);

const N_IDOC = id('IDOC');
const N_DC40 = id('EDI_DC40');
const A_SEGMENT = id('SEGMENT');
const N_HEADER = id('Header');
/** Vocabulary names from here on are segments. */
const FIRST_SEGMENT = id('E1KOMG');

/** Segments whose records or parts the reader builds (one code per name). */
const S_KONP = id('E1KONP');
const S_KONM = id('E1KONM');
const S_MARAM = id('E1MARAM');
const S_MAKTM = id('E1MAKTM');
const S_MARMM = id('E1MARMM');
const S_MVKEM = id('E1MVKEM');
const S_KNA1M = id('E1KNA1M');
const S_KNVVM = id('E1KNVVM');
const S_KNVPM = id('E1KNVPM');
const S_KNBKM = id('E1KNBKM');
const S_KNVKM = id('E1KNVKM');
const S_MDSTL = id('E1MDSTL');

/** Control record fields copied into every record (lineage, dispatch, the sender). */
const CONTROL_FIELDS = ['DOCNUM', 'MESTYP', 'IDOCTYP', 'CIMTYP', 'SNDPRN', 'SNDPRT', 'CREDAT', 'CRETIM', 'SERIAL'] as const;

// ----- the segment tables -------------------------------------------------------------------------

type Family = 'COND_A' | 'MATMAS' | 'DEBMAS' | 'LOISTD' | 'ORDRSP';

/** (parent, child, kinds any of which needs it). The parent `IDOC` is the IDoc itself. */
type Row = readonly [parent: VocabName, child: VocabName, needs: readonly string[]];

const TABLES: Record<Family, readonly Row[]> = {
  // E1KOMG (condition key) → E1KONH (validity) → E1KONP (condition item) → E1KONM (quantity scale).
  COND_A: [
    ['IDOC', 'E1KOMG', ['cond_a']],
    ['E1KOMG', 'E1KONH', ['cond_a']],
    ['E1KONH', 'E1KONP', ['cond_a']],
    ['E1KONP', 'E1KONM', ['cond_a']],
  ],
  // E1MARAM (client-level material) with E1MAKTM (description per language), E1MARMM (units of measure),
  // E1MVKEM (sales data per sales organisation / distribution channel).
  MATMAS: [
    ['IDOC', 'E1MARAM', ['matmas', 'matmas.units']],
    ['E1MARAM', 'E1MAKTM', ['matmas']],
    ['E1MARAM', 'E1MVKEM', ['matmas']],
    ['E1MARAM', 'E1MARMM', ['matmas.units']],
  ],
  // E1KNA1M (general customer data) with E1KNVVM (sales areas) → E1KNVPM (partner functions), E1KNBKM
  // (bank details), E1KNVKM (contact persons).
  DEBMAS: [
    ['IDOC', 'E1KNA1M', ['debmas', 'debmas.legal', 'debmas.contacts']],
    ['E1KNA1M', 'E1KNVVM', ['debmas']],
    ['E1KNVVM', 'E1KNVPM', ['debmas']],
    ['E1KNA1M', 'E1KNBKM', ['debmas.legal']],
    ['E1KNA1M', 'E1KNVKM', ['debmas.contacts']],
  ],
  // E1MDSTL: stock of one material in one plant (MATNR, WERKS, LABST unrestricted, INSME, SPEME …).
  LOISTD: [['IDOC', 'E1MDSTL', ['stock']]],
  // Order responses are not runs: counted, skipped (the outbound side reads them).
  ORDRSP: [],
};

const FAMILY_KINDS: Record<Family, readonly string[]> = {
  COND_A: ['cond_a'],
  MATMAS: ['matmas', 'matmas.units'],
  DEBMAS: ['debmas', 'debmas.legal', 'debmas.contacts'],
  LOISTD: ['stock'],
  ORDRSP: [],
};

function compileTable(rows: readonly Row[], want: (k: string) => boolean): Uint8Array {
  const t = new Uint8Array(NV * NV);
  for (const [p, c, needs] of rows) if (needs.some(want)) t[id(p) * NV + id(c)] = 1;
  return t;
}

/** A name that is a segment even without SEGMENT="1" (SAP's own and customer segments). */
const SEGMENT_NAME = /^(E1|E2|E3|Z1|Z2|Y1|Y2)[A-Z0-9_]/;

// ----- roles per depth ----------------------------------------------------------------------------

const R_SKIP = 0;
/** Above the IDocs: the basic type root, the SOAP Envelope and Body. */
const R_OUTER = 1;
const R_IDOC = 2;
const R_CONTROL = 3;
const R_CONTROL_FIELD = 4;
const R_SEGMENT = 5;
const R_FIELD = 6;
const R_TOP = 7;

/** One open segment that is read. */
interface Seg {
  name: number;
  fields: Data;
  line: number;
  /** Sibling counters of its child segments: name id → count (made when the first child opens). */
  children: Map<number, number> | undefined;
  /** 1-based index among its siblings of the same name. */
  index: number;
}

/** Reads IDoc-XML tokenizer events into records and counts. */
export class IdocReader implements ScanHandler {
  readonly scanner: XmlScanner;
  readonly counts = emptyCounts();
  private readonly o: IdocReaderOptions;
  private readonly batcher: RecordBatcher<SourceRecord>;
  private readonly want: (k: string) => boolean;
  private readonly tables: Record<Family, Uint8Array>;
  private readonly accepted: ReadonlySet<string>;
  private readonly managerFns: readonly string[];
  private readonly plantStorage: boolean;

  private role = new Uint8Array(64);
  /** Read segments open, outermost first (index = nesting level below IDOC). */
  private segs: Seg[] = [];
  /** Sibling counters of the IDoc's top-level segments. */
  private topChildren = new Map<number, number>();

  // The IDoc being read.
  private idocIndex = 0;
  private control: Data = {};
  private family: Family | undefined;
  private table: Uint8Array | undefined;
  private idocLine = 0;
  /** IDocs of an accepted message type, and the first of another (see endControl). */
  private own = 0;
  private foreign: { docnum: string; mestyp: string; line: number; index: number } | undefined;

  // COND_A: scales of the open E1KONP.
  private scales: string[] = [];
  // MATMAS: descriptions and sales data of the open E1MARAM.
  private texts: Data = {};
  private firstText = '';
  private salesAreas: string[] = [];
  private firstSales: Data | undefined;
  // DEBMAS: the open customer's sales areas, manager, first bank.
  private manager = '';
  private bank: Data | undefined;
  private custAreas: string[] = [];
  private firstArea: Data | undefined;

  constructor(o: IdocReaderOptions) {
    this.o = o;
    this.batcher = new RecordBatcher(o.batchSize ?? 500);
    const k = o.kinds;
    this.want = (kind: string) => !k || k.has(kind);
    this.tables = {} as Record<Family, Uint8Array>;
    for (const f of Object.keys(TABLES) as Family[]) this.tables[f] = compileTable(TABLES[f], this.want);
    this.accepted = new Set(o.messageTypes && o.messageTypes.length ? o.messageTypes : INBOUND_MESSAGE_TYPES.map((t) => t.mestyp));
    this.managerFns = o.managerPartnerFunctions ?? ['VE', 'ZM'];
    this.plantStorage = o.warehouseKey === 'plantStorage';
    this.scanner = new XmlScanner({ fileName: o.fileName, names: VOCAB, format: 'IDoc-XML' }, this);
    this.role[0] = R_TOP;
  }

  take(): SourceRecord[][] {
    return this.batcher.take();
  }

  flush(): SourceRecord[] {
    return this.batcher.flush();
  }

  /** Where the reader is: `IDOC[DOCNUM=…]/E1KOMG[1]/…` (the IDoc by position before its DOCNUM is read). */
  path(): string {
    if (this.idocIndex === 0) return '';
    const docnum = this.control.DOCNUM;
    let p = docnum ? `IDOC[DOCNUM=${docnum}]` : `IDOC[${this.idocIndex}]`;
    for (const s of this.segs) p += `/${this.scanner.nameOf(s.name)}[${s.index}]`;
    return p;
  }

  /** The DOCNUM of the IDoc being read, or ''. */
  docnum(): string {
    return this.control.DOCNUM ?? '';
  }

  open(name: number, d: number): boolean {
    if (d >= this.role.length) {
      const g = new Uint8Array(this.role.length * 2);
      g.set(this.role);
      this.role = g;
    }
    const pr = this.role[d - 1]!;
    let r: number = R_SKIP;
    switch (pr) {
      case R_TOP:
        r = name === N_IDOC ? this.startIdoc() : R_OUTER;
        break;
      case R_OUTER:
        r = name === N_IDOC ? this.startIdoc() : name === N_HEADER ? R_SKIP : R_OUTER;
        break;
      case R_IDOC:
        if (name === N_DC40) r = R_CONTROL;
        else r = this.openSegment(name, N_IDOC);
        break;
      case R_CONTROL:
        r = R_CONTROL_FIELD;
        break;
      case R_SEGMENT: {
        const parent = this.segs[this.segs.length - 1]!.name;
        if (this.isSegment(name)) r = this.openSegment(name, parent);
        else r = R_FIELD;
        break;
      }
    }
    this.role[d] = r;
    return r === R_FIELD || r === R_CONTROL_FIELD;
  }

  close(name: number, d: number, text: string): void {
    const r = this.role[d]!;
    switch (r) {
      case R_FIELD:
        this.segs[this.segs.length - 1]!.fields[this.scanner.nameOf(name)] = text;
        return;
      case R_CONTROL_FIELD:
        this.control[this.scanner.nameOf(name)] = text;
        return;
      case R_CONTROL:
        this.endControl();
        return;
      case R_SEGMENT:
        this.closeSegment();
        return;
      case R_IDOC:
        if (!this.family && this.control.DOCNUM === undefined) {
          throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: this.o.fileName, line: this.scanner.currentLine(), path: this.path() }, 'the IDoc has no control record EDI_DC40');
        }
        this.family = undefined;
        this.table = undefined;
        return;
    }
  }

  // ----- IDocs and control records ------------------------------------------------------------

  private startIdoc(): number {
    this.idocIndex++;
    this.counts.idocs++;
    this.control = {};
    this.family = undefined;
    this.table = undefined;
    this.segs = [];
    this.topChildren.clear();
    this.idocLine = this.scanner.currentLine();
    return R_IDOC;
  }

  private notAccepted(mestyp: string): string {
    const known = INBOUND_MESSAGE_TYPES.map((t) => t.mestyp).filter((m) => this.accepted.has(m));
    return `message type ${mestyp ? `"${mestyp}"` : '(EDI_DC40/MESTYP empty)'} is not accepted here; accepted: ${known.join(', ')}`;
  }

  /** The end of the file: it must have held IDocs, and at least one of a message type this flow takes. */
  finish(): void {
    if (this.counts.idocs === 0) {
      throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: this.o.fileName }, 'no <IDOC> in the file: not an IDoc-XML document (root = basic type, IDOC, EDI_DC40, segments)');
    }
    const f = this.foreign;
    if (this.own === 0 && f) {
      const path = f.docnum ? `IDOC[DOCNUM=${f.docnum}]` : `IDOC[${f.index}]`;
      throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: this.o.fileName, line: f.line, path }, `${this.notAccepted(f.mestyp)} (no IDoc of the file is)`);
    }
  }

  private fail(detail: string): never {
    throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: this.o.fileName, line: this.idocLine, path: this.path() }, detail);
  }

  /** The control record is complete: which message type, and whether this flow takes it. */
  private endControl(): void {
    const c = this.control;
    for (const f of CONTROL_FIELDS) c[f] = (c[f] ?? '').trim();
    const mestyp = c.MESTYP!;
    const type = messageType(mestyp);
    if (!type) this.fail(this.notAccepted(mestyp));
    if (!this.accepted.has(mestyp)) {
      // Another flow's IDoc: a message mixing message types reaches every flow that takes one of them,
      // each reading its own. A file with none of this flow's is refused at its end (finish()).
      this.foreign ??= { docnum: c.DOCNUM!, mestyp, line: this.idocLine, index: this.idocIndex };
      this.family = mestyp as Family;
      this.table = undefined;
      return;
    }
    this.own++;
    // An extension (CIMTYP) is read as its basic type.
    if (!type.basicTypes.includes(c.IDOCTYP!)) {
      this.fail(`basic type "${c.IDOCTYP}" is not one of ${mestyp}'s: ${type.basicTypes.join(', ')}`);
    }
    const family = mestyp as Family;
    this.family = family;
    if (family === 'ORDRSP') this.counts.orders++;
    // Nothing of this IDoc is wanted: its segments are skipped unread.
    this.table = FAMILY_KINDS[family].some(this.want) ? this.tables[family] : undefined;
  }

  // ----- segments -----------------------------------------------------------------------------

  private isSegment(name: number): boolean {
    if (name < NV) return name >= FIRST_SEGMENT;
    if (this.scanner.hasAttributes && this.scanner.attr(A_SEGMENT) !== undefined) return true;
    return SEGMENT_NAME.test(this.scanner.nameOf(name));
  }

  private openSegment(name: number, parent: number): number {
    if (this.family === undefined) {
      this.fail(`segment <${this.scanner.nameOf(name)}> comes before the control record EDI_DC40`);
    }
    const t = this.table;
    if (!t || name >= NV || parent >= NV || t[parent * NV + name] !== 1) return R_SKIP;
    let siblings = this.topChildren;
    if (this.segs.length) {
      const parentSeg = this.segs[this.segs.length - 1]!;
      siblings = parentSeg.children ??= new Map();
    }
    const index = (siblings.get(name) ?? 0) + 1;
    siblings.set(name, index);
    this.segs.push({ name, fields: {}, line: this.scanner.currentLine(), children: undefined, index });
    switch (name) {
      case S_KONP:
        this.scales = [];
        this.counts.prices++;
        break;
      case S_MARAM:
        this.texts = {};
        this.firstText = '';
        this.salesAreas = [];
        this.firstSales = undefined;
        this.counts.products++;
        break;
      case S_KNA1M:
        this.manager = '';
        this.bank = undefined;
        this.custAreas = [];
        this.firstArea = undefined;
        this.counts.counterparties++;
        break;
      case S_MDSTL:
        this.counts.stock++;
        break;
    }
    return R_SEGMENT;
  }

  private closeSegment(): void {
    const seg = this.segs[this.segs.length - 1]!;
    const f = seg.fields;
    switch (seg.name) {
      case S_KONM:
        // A scale line: from KSTBM (scale quantity) on, KBETR (the rate). Kept raw; the mapping checks them.
        this.scales.push(`${(f.KSTBM ?? '').trim()}:${(f.KBETR ?? '').trim()}`);
        break;
      case S_KONP:
        this.emitCondition(seg);
        break;
      case S_MAKTM: {
        const text = f.MAKTX ?? '';
        const iso = langIso(f);
        if (iso && this.texts[`MAKTX_${iso}`] === undefined) this.texts[`MAKTX_${iso}`] = text;
        if (!this.firstText) this.firstText = text;
        break;
      }
      case S_MVKEM:
        if ((f.VKORG ?? '').trim() !== '') this.salesAreas.push(`${f.VKORG!.trim()}/${(f.VTWEG ?? '').trim()}`);
        this.firstSales ??= f;
        break;
      case S_MARMM:
        this.emitUnit(seg);
        break;
      case S_MARAM:
        this.emitMaterial(seg);
        break;
      case S_KNVPM:
        if (!this.manager && this.managerFns.includes((f.PARVW ?? '').trim()) && (f.PERNR ?? '').trim().replace(/^0+/, '') !== '') this.manager = f.PERNR!.trim();
        break;
      case S_KNVVM:
        if ((f.VKORG ?? '').trim() !== '') this.custAreas.push([f.VKORG, f.VTWEG, f.SPART].map((v) => (v ?? '').trim()).join('/'));
        this.firstArea ??= f;
        break;
      case S_KNBKM:
        this.bank ??= f;
        break;
      case S_KNVKM:
        this.emitContact(seg);
        break;
      case S_KNA1M:
        this.emitCustomer(seg);
        break;
      case S_MDSTL:
        this.emitStock(seg);
        break;
    }
    this.segs.pop();
  }

  private emit(kind: string, data: Data, seg: Seg): void {
    if (!this.want(kind)) return;
    this.batcher.push({ kind, data, line: seg.line, path: this.path() });
  }

  private base(): Data {
    const c = this.control;
    const d: Data = {};
    for (const f of CONTROL_FIELDS) d[f] = c[f]!;
    return d;
  }

  /** One condition record per E1KONP: E1KOMG's key, E1KONH's validity, its own fields and scales. */
  private emitCondition(seg: Seg): void {
    const d = this.base();
    for (const s of this.segs) Object.assign(d, s.fields);
    d.SCALES = this.scales.join(';');
    // E1KONP's own KSCHL wins (Object.assign order); the key's condition type is E1KOMG's.
    const komg = this.segs[0]!.fields;
    d.PRICE_KEY = priceKey(d.KSCHL ?? komg.KSCHL ?? '', komg);
    this.emit('cond_a', d, seg);
  }

  private emitMaterial(seg: Seg): void {
    const d = this.base();
    if (this.firstSales) for (const [k, v] of Object.entries(this.firstSales)) d[k] = v;
    Object.assign(d, seg.fields, this.texts);
    d.MAKTX = this.texts.MAKTX_RU ?? this.texts.MAKTX_EN ?? this.firstText;
    d.MAKTX_RU ??= '';
    d.MAKTX_EN ??= '';
    d.SALES_AREAS = this.salesAreas.join(';');
    this.emit('matmas', d, seg);
  }

  /** An alternative unit (E1MARMM); the base unit's own row (MEINH = MEINS, 1:1) is the product's unit and no alternative. */
  private emitUnit(seg: Seg): void {
    const mat = this.segs[0]!.fields;
    const f = seg.fields;
    const base = (mat.MEINS ?? '').trim();
    if (base !== '' && (f.MEINH ?? '').trim() === base) return;
    const d = this.base();
    d.MATNR = mat.MATNR ?? '';
    d.MEINS = mat.MEINS ?? '';
    Object.assign(d, f);
    this.emit('matmas.units', d, seg);
  }

  private emitCustomer(seg: Seg): void {
    const f = seg.fields;
    const common = this.base();
    Object.assign(common, f);
    const names = [f.NAME1, f.NAME2, f.NAME3, f.NAME4].map((v) => (v ?? '').trim()).filter((v) => v !== '');
    common.NAME = [f.NAME1, f.NAME2].map((v) => (v ?? '').trim()).filter((v) => v !== '').join(' ');
    common.NAME_FULL = names.join(' ');
    common.ADDRESS = [f.PSTLZ, f.ORT01, f.STRAS].map((v) => (v ?? '').trim()).filter((v) => v !== '').join(', ');
    // Blocked for the portal: a central order block (AUFSD) or posting block (SPERR).
    common.BLOCKED = (f.AUFSD ?? '').trim() !== '' || (f.SPERR ?? '').trim() === 'X' ? 'true' : 'false';
    if (this.want('debmas')) {
      const d: Data = { ...common };
      if (this.firstArea) for (const [k, v] of Object.entries(this.firstArea)) d[k] ??= v;
      d.SALES_AREAS = this.custAreas.join(';');
      d.MANAGER = this.manager;
      this.emit('debmas', d, seg);
    }
    if (this.want('debmas.legal')) {
      const d: Data = common;
      // The first bank (E1KNBKM): its fields where the customer's own do not already use the name (ORT01…).
      if (this.bank) for (const [k, v] of Object.entries(this.bank)) d[k] ??= v;
      this.emit('debmas.legal', d, seg);
    }
  }

  /** A contact person (E1KNVKM): its own fields and the customer's number only. */
  private emitContact(seg: Seg): void {
    const cust = this.segs[0]!.fields;
    const f = seg.fields;
    const d = this.base();
    d.KUNNR = cust.KUNNR ?? '';
    Object.assign(d, f);
    d.NAME = [f.NAMEV, f.NAME1].map((v) => (v ?? '').trim()).filter((v) => v !== '').join(' ');
    this.emit('debmas.contacts', d, seg);
  }

  private emitStock(seg: Seg): void {
    const f = seg.fields;
    const d = this.base();
    Object.assign(d, f);
    const plant = (f.WERKS ?? '').trim();
    const sloc = (f.LGORT ?? '').trim();
    d.WAREHOUSE = this.plantStorage && sloc !== '' ? `${plant}/${sloc}` : plant;
    this.emit('stock', d, seg);
  }
}

/** The language of an E1MAKTM as ISO 639-1 (SPRAS_ISO, else SAP's one-letter SPRAS for the usual ones). */
function langIso(f: Data): string {
  const iso = (f.SPRAS_ISO ?? '').trim().toUpperCase();
  if (iso) return iso;
  const sap = (f.SPRAS ?? '').trim();
  return SAP_LANGUAGES[sap] ?? sap.toUpperCase();
}

/** SAP's internal one-letter language keys (T002) of the languages a Russian B2B portal meets most. */
const SAP_LANGUAGES: Record<string, string> = { R: 'RU', E: 'EN', D: 'DE', F: 'FR', I: 'IT', S: 'ES', '1': 'ZH', '8': 'UK', K: 'KK' };

/**
 * The price key of a condition record: `KSCHL/C/KUNNR` for a customer-specific condition, else KSCHL
 * and the filled sales-side key fields (VKORG, VTWEG, PLTYP), e.g. `PR00/1000/10/01`. The mapping turns
 * keys into portal price types (a lookup table); every key field is also in the record as it came.
 */
function priceKey(kschl: string, komg: Data): string {
  let key = kschl.trim();
  const kunnr = (komg.KUNNR ?? '').trim();
  if (kunnr) return `${key}/C/${kunnr}`;
  const vkorg = (komg.VKORG ?? '').trim();
  const vtweg = (komg.VTWEG ?? '').trim();
  const pltyp = (komg.PLTYP ?? '').trim();
  if (vkorg) key += `/${vkorg}`;
  if (vtweg) key += `/${vtweg}`;
  if (pltyp) key += `/${pltyp}`;
  return key;
}

/**
 * Reads an IDoc-XML (or IDoc-SOAP) file as batches of records; returns the counts when done. A payload
 * error names the file, the IDoc (DOCNUM), the segment path, line and column.
 */
export async function* readIdocs(input: Readable, o: IdocReaderOptions): AsyncGenerator<SourceRecord[], IdocCounts> {
  const reader = new IdocReader(o);
  const sc = reader.scanner;
  try {
    for await (const chunk of input) {
      o.signal?.throwIfAborted();
      sc.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
      for (const b of reader.take()) yield b;
    }
    sc.end();
  } catch (e) {
    throw withIdoc(e, reader);
  }
  reader.finish();
  for (const b of reader.take()) yield b;
  const last = reader.flush();
  if (last.length) yield last;
  return reader.counts;
}

/** A tokenizer error with the IDoc and segment where it happened. */
function withIdoc(e: unknown, reader: IdocReader): unknown {
  if (!(e instanceof PayloadError) || e.position.path) return e;
  const path = reader.path();
  if (!path) return e;
  const where = formatPosition(e.position);
  const detail = e.message.startsWith(`${where}: `) ? e.message.slice(where.length + 2) : e.message;
  const docnum = reader.docnum();
  return new PayloadError(e.code as 'MAG_ERR_PAYLOAD_MALFORMED', { ...e.position, path }, docnum ? `IDoc ${docnum}: ${detail}` : detail);
}
