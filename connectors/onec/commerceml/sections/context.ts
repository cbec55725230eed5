// What a section handler of the CommerceML reader works with: the tokenizer, the counts, what is
// wanted, record output, element lines and paths, and the state sections share (price type currencies).
import type { SourceRecord } from '../../../../src/port/index.ts';
import type { XmlScanner } from '../../../lib/index.ts';
import type { ElementCounts, RecordKind } from '../kinds.ts';

export type Data = Record<string, string>;

export interface ReadContext {
  readonly scanner: XmlScanner;
  readonly counts: ElementCounts;
  /** Which record kinds are emitted. */
  readonly want: Readonly<Record<RecordKind, boolean>>;
  /** Also emit offers without a characteristic (see ReaderOptions.plainOffers). */
  readonly plainOffers: boolean;
  /** Currency of each declared price type, for prices that do not repeat it. */
  readonly priceTypeCurrency: Map<string, string>;
  /** Line of the tag being reported. */
  line(): number;
  /** Element path of the structural element open at depth d. */
  path(d: number): string;
  emit(kind: RecordKind, data: Data, line: number, path: string): void;
  /** Emits a record built earlier (an offer's prices and stock, once the offer's Ид is known). */
  push(rec: SourceRecord): void;
}

/**
 * A section of the document: told when its structural elements open and close, and the text of their
 * fields. Roles come from the role table; a handler never looks at its parents.
 */
export interface Section {
  /** A structural element opened (attributes readable now); returns whether its own text is wanted. */
  enter(role: number, name: number, d: number): boolean;
  /** A field of a structural element of role `parent` closed with its text. */
  field(parent: number, name: number, text: string): void;
  /** A structural element closed; `text` is its own text if enter() asked for it. */
  leave(role: number, d: number, text: string): void;
}
