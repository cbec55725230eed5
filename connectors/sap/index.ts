// The SAP connector module: the inbound IDoc endpoint (/exchange/sap/idoc/<endpoint>, IDoc-XML over HTTP
// and IDoc over SOAP) with its table of received messages. The `sap.idoc` reader and the outbound side
// are added to this module as they land.
import type { ConnectorModule } from '../../src/port/index.ts';
import { idocExchange } from './idoc/exchange.ts';
import { sapMigrations } from './idoc/migrations.ts';

export const sapModule: ConnectorModule = { name: 'sap', exchanges: [idocExchange], connectors: [], migrations: sapMigrations };

export { idocExchange, IDOC_EXCHANGE_PREFIX } from './idoc/exchange.ts';
export { idocEndpointOptionsProperties } from './idoc/options.ts';
