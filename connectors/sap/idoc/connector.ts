// The sap.idoc connector: IDoc-XML (and IDoc-SOAP) files that SAP sends — condition records, materials,
// customers, stock — read as records of several kinds (types.ts); a flow's mapping names (ctx.kinds)
// choose which kinds it gets. The options are shared with the HTTP endpoint /exchange/sap/idoc/:endpoint.
import type { Readable } from 'node:stream';
import { COUNT_KEYS, readIdocs, type IdocCounts, type WarehouseKey } from './reader.ts';
import { idocEndpointOptionsProperties } from './options.ts';
import type { Connector, DryRunCounting, ParseContext, SourceRecord } from '../../../src/port/index.ts';

export const IDOC_OPTIONS_SCHEMA = {
  $id: 'https://magistral.dev/schemas/connectors/sap.idoc.options.json',
  title: 'sap.idoc options',
  type: 'object',
  additionalProperties: false,
  properties: {
    // The endpoint's options (endpoint, messageTypes, userEnv, passwordEnv, maxBodyBytes): one definition
    // shared with /exchange/sap/idoc/<endpoint>. messageTypes absent (a dry run): every inbound type.
    ...idocEndpointOptionsProperties,
    warehouseKey: {
      type: 'string',
      enum: ['plant', 'plantStorage'],
      default: 'plant',
      description: 'Stock warehouse code: the plant (WERKS), or plant/storage location (WERKS/LGORT) where the stock segment carries a storage location.',
    },
    managerPartnerFunctions: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 2 },
      default: ['VE', 'ZM'],
      description: "E1KNVPM partner functions (PARVW, SAP's internal codes) whose personnel number (PERNR) is the customer's manager; the first found wins. VE = sales employee, ZM = employee responsible.",
    },
  },
} as const;

function parseCounted(input: Readable, ctx: ParseContext): AsyncGenerator<SourceRecord[], IdocCounts> {
  const o = ctx.options;
  return readIdocs(input, {
    fileName: ctx.fileName,
    kinds: ctx.kinds,
    messageTypes: Array.isArray(o.messageTypes) ? (o.messageTypes as string[]) : undefined,
    warehouseKey: (o.warehouseKey === 'plantStorage' ? 'plantStorage' : 'plant') as WarehouseKey,
    managerPartnerFunctions: Array.isArray(o.managerPartnerFunctions) ? (o.managerPartnerFunctions as string[]) : undefined,
    signal: ctx.signal,
  });
}

/**
 * `magistral dry-run --connector sap.idoc` reports the file's own elements: `idocs` (IDOC elements),
 * `products` (E1MARAM), `prices` (condition records: E1KONP, each with its scales as one record's tiers),
 * `counterparties` (E1KNA1M), `stock` (E1MDSTL), `orders` (ORDRSP IDocs), then `rejects` and `errors`.
 */
const dryRun: DryRunCounting = {
  keys: COUNT_KEYS,
  parseCounted,
};

export const idocConnector: Connector & { dryRun: DryRunCounting } = {
  kind: 'sap.idoc',
  optionsSchema: IDOC_OPTIONS_SCHEMA,
  parse: parseCounted,
  dryRun,
};
