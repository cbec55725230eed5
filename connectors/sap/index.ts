// The SAP connector module: IDoc-XML / IDoc-SOAP files SAP sends (sap.idoc), read by the streaming
// reader; the inbound IDoc endpoint (/exchange/sap/idoc/<endpoint>) with its table of received messages.
import type { ConnectorModule } from '../../src/port/index.ts';
import { idocConnector } from './idoc/connector.ts';
import { idocExchange } from './idoc/exchange.ts';
import { sapMigrations } from './idoc/migrations.ts';

export const sapModule: ConnectorModule = { name: 'sap', connectors: [idocConnector], exchanges: [idocExchange], migrations: sapMigrations };

export { idocExchange, IDOC_EXCHANGE_PREFIX } from './idoc/exchange.ts';
export { idocEndpointOptionsProperties } from './idoc/options.ts';
