// The SAP connector module: IDoc-XML / IDoc-SOAP files SAP sends (sap.idoc), read by the streaming
// reader, and the inbound IDoc endpoint (/exchange/sap/idoc/<endpoint>) with its table of received
// messages; S/4HANA OData v2 pulled (sap.odata); RFC tables and BAPIs pulled (sap.rfc; node-rfc loaded
// only when a flow pulls); orders out as ORDERS05 IDocs (sap.idoc.orders) or S/4HANA sales orders
// (sap.odata.orders), with the ORDRSP IDocs the endpoint hands to connectors/sap/outbound/ordrsp.ts.
import type { ConnectorModule } from '../../src/port/index.ts';
import { idocConnector } from './idoc/connector.ts';
import { idocExchange } from './idoc/exchange.ts';
import { sapMigrations } from './idoc/migrations.ts';
import { sapODataConnector } from './odata/index.ts';
import { sapRfcConnector } from './rfc/index.ts';
import { idocOrdersConnector, s4OrdersConnector } from './outbound/index.ts';

export const sapModule: ConnectorModule = {
  name: 'sap',
  connectors: [idocConnector, sapODataConnector, sapRfcConnector, idocOrdersConnector, s4OrdersConnector],
  exchanges: [idocExchange],
  migrations: sapMigrations,
};

export { idocExchange, IDOC_EXCHANGE_PREFIX } from './idoc/exchange.ts';
export { idocEndpointOptionsProperties } from './idoc/options.ts';
