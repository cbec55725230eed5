// The CommerceML reader: turns the tokenizer's element events into flat source records, one kind per
// document part (groups, properties, products, offers, prices, stock, orders …), each with its line and
// element path. A role table (roles.ts) says what each element is from its parent's role and its name;
// one handler per section (classifier, catalog, offers, documents) builds the records. It works for every
// shape 1C writes (2.03–2.10, 3.x with Контейнер, both stock forms) and keeps only the current record.
import type { Readable } from 'node:stream';
import { PayloadError, type RecordTake, type SourceRecord } from '../../../src/port/index.ts';
import { RecordBatcher, XmlScanner, type ScanHandler } from '../../lib/index.ts';
import { emptyCounts, type ElementCounts, type RecordKind, RECORD_KINDS } from './kinds.ts';
import type { OrderDocument } from './order-document.ts';
import { INDEXED, R, S_CATALOG, S_CLASSIFIER, S_OFFERS, S_ORDERS, SECTION_OF, compileRoles, type Need } from './roles.ts';
import { CatalogSection } from './sections/catalog.ts';
import { ClassifierSection } from './sections/classifier.ts';
import { isTrue } from './sections/common.ts';
import type { Data, ReadContext } from './sections/context.ts';
import { DocumentsSection } from './sections/documents.ts';
import { OffersSection } from './sections/offers.ts';
import { N_ONLY_CHANGES, N_PACKAGE_CHANGES, N_PRICES, VOCAB } from './vocabulary.ts';

export { COUNT_KEYS, emptyCounts, RECORD_KINDS, type ElementCounts, type RecordKind } from './kinds.ts';

export interface ReaderOptions {
  fileName: string;
  /** Kinds to emit; absent: all. Work for the others is skipped. */
  kinds?: ReadonlySet<string>;
  /** Told when the file says it holds changes only (delta) or explicitly everything (snapshot). */
  setMode?(mode: 'delta' | 'snapshot'): void;
  /**
   * Also emit offers without a characteristic as `offers` records. Off by default: a plain offer's Ид is
   * its catalog product's Ид, and the catalog (Товар) is what describes that product.
   */
  plainOffers?: boolean;
  /** Records per batch. @defaultValue 2000 */
  batchSize?: number;
  /** Called with every order document, complete. */
  onDocument?(doc: OrderDocument): void;
  /** Offers' prices may be taken from their bytes (ParseContext.recordTake). */
  recordTake?: RecordTake;
  signal?: AbortSignal;
}

const NV = VOCAB.length;

/** Reads CommerceML tokenizer events into records and element counts. */
export class CommerceMLReader implements ScanHandler, ReadContext {
  readonly scanner: XmlScanner;
  readonly counts = emptyCounts();
  readonly want: Readonly<Record<RecordKind, boolean>>;
  readonly plainOffers: boolean;
  readonly priceTypeCurrency = new Map<string, string>();
  private readonly o: ReaderOptions;
  private readonly batcher: RecordBatcher<SourceRecord>;

  // The role table compiled for what is wanted: child role by parent role × name id, and for other names.
  private readonly byName: Uint8Array;
  private readonly other: Uint8Array;
  private readonly classifier: ClassifierSection;
  private readonly catalog: CatalogSection;
  private readonly offers: OffersSection;
  private readonly documents: DocumentsSection;

  // Per depth: role, element path (structural elements only) and sibling counters for indexed names.
  private role = new Uint8Array(64);
  private paths: string[] = new Array<string>(64).fill('');
  private sibNames: number[][] = [];
  private sibCounts: number[][] = [];
  private delta = false;

  constructor(o: ReaderOptions) {
    this.o = o;
    this.batcher = new RecordBatcher(o.batchSize ?? 2000);
    const k = o.kinds;
    const want = {} as Record<RecordKind, boolean>;
    for (const kind of RECORD_KINDS) want[kind] = !k || k.has(kind);
    this.want = want;
    this.plainOffers = o.plainOffers === true;
    const documents = want.orders || want.orderLines || o.onDocument !== undefined;
    const roles = compileRoles((n: Need) => (n === 'documents' ? documents : want[n]));
    this.byName = roles.byName;
    this.other = roles.other;
    const stopAtOffers = k !== undefined && o.onDocument === undefined
      && !(want.groups || want.properties || want.propertyValues || want.products || want.productProperties || want.offers || want.prices || want.stock || want.orders || want.orderLines);
    this.classifier = new ClassifierSection(this);
    this.catalog = new CatalogSection(this);
    this.offers = new OffersSection(this, stopAtOffers, o.recordTake);
    this.documents = new DocumentsSection(this, o.onDocument);
    // Offers' `<Цены>` wait for their end so that their prices can be taken whole (OffersSection.content).
    this.scanner = new XmlScanner({ fileName: o.fileName, names: VOCAB, format: 'CommerceML', ...(o.recordTake && want.prices ? { contentNames: [N_PRICES] } : {}) }, this);
    this.role[0] = R.TOP;
  }

  /** Full batches, taken out. */
  take(): SourceRecord[][] {
    return this.batcher.take();
  }

  /** What is left after the end. */
  flush(): SourceRecord[] {
    return this.batcher.flush();
  }

  emit(kind: RecordKind, data: Data, line: number, path: string): void {
    this.batcher.push({ kind, data, line, path });
  }

  push(rec: SourceRecord): void {
    this.batcher.push(rec);
  }

  line(): number {
    return this.scanner.currentLine();
  }

  path(d: number): string {
    return this.paths[d]!;
  }

  open(name: number, d: number): boolean {
    if (d >= this.role.length) this.grow();
    const pr = this.role[d - 1]!;
    const r = name < NV ? this.byName[pr * NV + name]! : this.other[pr]!;
    this.role[d] = r;
    if (r === R.SKIP) return false;
    if (r === R.FIELD) return true;
    if (r === R.DOC_PART) return this.documents.openPart(name);
    if (r === R.NOT_CML) {
      throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: this.o.fileName, line: this.line() }, `the root element is <${this.scanner.nameOf(name)}>, not <КоммерческаяИнформация>: not a CommerceML document`);
    }
    // A structural element: its path, and a fresh sibling counter for its children.
    this.paths[d] = d === 1 ? `/${this.scanner.nameOf(name)}` : this.pathOf(name, d);
    const names = this.sibNames[d];
    if (names) {
      if (names.length) {
        names.length = 0;
        this.sibCounts[d]!.length = 0;
      }
    } else {
      this.sibNames[d] = [];
      this.sibCounts[d] = [];
    }
    switch (SECTION_OF[r]) {
      case S_OFFERS: return this.offers.enter(r, name, d);
      case S_CATALOG: return this.catalog.enter(r, name, d);
      case S_CLASSIFIER: return this.classifier.enter(r, name, d);
      case S_ORDERS: return this.documents.enter(r, name, d);
    }
    if (r === R.CLASSIFIER || r === R.CATALOG || r === R.PACKAGE) {
      const flag = this.scanner.attr(N_ONLY_CHANGES);
      if (flag !== undefined) this.setMode(flag);
      else if (name === N_PACKAGE_CHANGES) this.setMode('true');
    }
    return false;
  }

  /** Only `<Цены>` is a content name (see the constructor): where it ends, when its prices can be taken. */
  measure(_name: number, buf: Buffer, start: number, limit: number): number {
    return this.offers.measure(buf, start, limit);
  }

  content(_name: number, d: number, buf: Buffer, start: number, end: number): boolean {
    return this.role[d] === R.PRICES && this.offers.content(buf, start, end);
  }

  close(name: number, d: number, text: string): void {
    const r = this.role[d]!;
    if (r === R.SKIP) return;
    if (r === R.FIELD) {
      const pr = this.role[d - 1]!;
      switch (SECTION_OF[pr]) {
        case S_OFFERS: this.offers.field(pr, name, text); return;
        case S_CATALOG: this.catalog.field(pr, name, text); return;
        case S_CLASSIFIER: this.classifier.field(pr, name, text); return;
      }
      // СодержитТолькоИзменения of a section head.
      this.setMode(text);
      return;
    }
    if (r === R.DOC_PART) {
      this.documents.closePart(text);
      return;
    }
    switch (SECTION_OF[r]) {
      case S_OFFERS: this.offers.leave(r, d, text); return;
      case S_CATALOG: this.catalog.leave(r, d, text); return;
      case S_CLASSIFIER: this.classifier.leave(r); return;
      case S_ORDERS: this.documents.leave(r); return;
    }
  }

  private grow(): void {
    const g = new Uint8Array(this.role.length * 2);
    g.set(this.role);
    this.role = g;
    while (this.paths.length < g.length) this.paths.push('');
  }

  /** Path of the element opening at depth d (its part indexed when its name repeats). */
  private pathOf(name: number, d: number): string {
    let part = this.scanner.nameOf(name);
    if (name < NV && INDEXED[name] === 1) {
      const names = this.sibNames[d - 1]!;
      const counts = this.sibCounts[d - 1]!;
      let i = names.indexOf(name);
      if (i < 0) {
        i = names.length;
        names.push(name);
        counts.push(0);
      }
      const n = ++counts[i]!;
      part += `[${n}]`;
    }
    return `${this.paths[d - 1]}/${part}`;
  }

  private setMode(value: string): void {
    if (isTrue(value)) {
      this.delta = true;
      this.o.setMode?.('delta');
    } else if (value.trim().toLowerCase() === 'false' && !this.delta) {
      this.o.setMode?.('snapshot');
    }
  }
}

/** Reads a CommerceML file as batches of records; returns the element counts when done. */
export async function* readCommerceML(input: Readable, o: ReaderOptions): AsyncGenerator<SourceRecord[], ElementCounts> {
  const reader = new CommerceMLReader(o);
  const sc = reader.scanner;
  for await (const chunk of input) {
    o.signal?.throwIfAborted();
    sc.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    for (const b of reader.take()) yield b;
    if (sc.isStopped) break;
  }
  sc.end();
  for (const b of reader.take()) yield b;
  const last = reader.flush();
  if (last.length) yield last;
  return reader.counts;
}

/** The order documents (`Документ`) of a CommerceML file, each complete, in file order. */
export async function* readOrderDocuments(input: Readable, fileName: string): AsyncGenerator<OrderDocument> {
  const docs: OrderDocument[] = [];
  const reader = new CommerceMLReader({ fileName, kinds: new Set(), onDocument: (d) => docs.push(d) });
  const sc = reader.scanner;
  for await (const chunk of input) {
    sc.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    while (docs.length) yield docs.shift()!;
  }
  sc.end();
  while (docs.length) yield docs.shift()!;
}
