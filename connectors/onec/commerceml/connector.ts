// The onec.commerceml connector: CommerceML files from 1C (catalog, offers, prices, rests, orders) read
// as records of several kinds; a flow's mapping names (ctx.kinds) choose which kinds it gets.
import type { Readable } from 'node:stream';
import { exchangeOptionsProperties } from '../exchange/options.ts';
import { saleOptionsProperties } from '../exchange/sale-options.ts';
import { COUNT_KEYS, readCommerceML, type ElementCounts } from './reader.ts';
import type { Connector, DryRunCounting, ParseContext, SourceRecord } from '../../../src/port/index.ts';

export const COMMERCEML_OPTIONS_SCHEMA = {
  $id: 'https://magistral.dev/schemas/connectors/onec.commerceml.options.json',
  title: 'onec.commerceml options',
  type: 'object',
  additionalProperties: false,
  properties: {
    plainOffers: {
      type: 'boolean',
      default: false,
      description: 'Also emit offers without a characteristic (Ид without #) as `offers` records. Off: such an offer is its catalog product, which the catalog (Товар) describes; its prices and stock still come through.',
    },
    // The exchange protocol's options (the flow serves /exchange/onec/<exchange>).
    ...exchangeOptionsProperties,
    // type=sale: the orders sent to 1C and the changes it sends back (version, encoding, time zone, statuses…).
    ...saleOptionsProperties,
  },
} as const;

function parseCounted(input: Readable, ctx: ParseContext): AsyncGenerator<SourceRecord[], ElementCounts> {
  return readCommerceML(input, {
    fileName: ctx.fileName,
    kinds: ctx.kinds,
    setMode: ctx.setMode ? (m) => ctx.setMode!(m) : undefined,
    plainOffers: ctx.options.plainOffers === true,
    signal: ctx.signal,
    ...(ctx.recordTake ? { recordTake: ctx.recordTake } : {}),
  });
}

/** `magistral dry-run` reports the file's own elements (see ElementCounts), not mapped rows per target. */
const dryRun: DryRunCounting = {
  keys: COUNT_KEYS,
  parseCounted,
};

export const commercemlConnector: Connector & { dryRun: DryRunCounting } = {
  kind: 'onec.commerceml',
  // readCommerceML writes each chunk to its XmlScanner, which copies what it keeps (pend, utf8Tail).
  copiesInput: true,
  optionsSchema: COMMERCEML_OPTIONS_SCHEMA,
  parse: parseCounted,
  dryRun,
};
