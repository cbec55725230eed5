// The 1C connector module: CommerceML files (pushed through the exchange endpoint, or ingested), 1C's
// OData interface (pulled), documents asked of its HTTP service (onec.http), the exchange with site at /exchange/onec, and the exchange's own tables.
import type { ConnectorModule } from '../../src/port/index.ts';
import { commercemlConnector } from './commerceml/index.ts';
import { onecExchange, onecMigrations } from './exchange/index.ts';
import { odataConnector } from './odata/index.ts';
import { onecHttpConnector } from './http/index.ts';

export const onecModule: ConnectorModule = {
  name: 'onec',
  connectors: [commercemlConnector, odataConnector, onecHttpConnector],
  exchanges: [onecExchange],
  migrations: onecMigrations,
};
