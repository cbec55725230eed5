// The CRM connector module (Bitrix24): pulled companies, contacts, requisites, contact links and
// managers (bitrix24.rest); events at /exchange/webhooks/<flow> (bitrix24.events) and orders out as
// deals (bitrix24.deals); the module's own tables (OAuth tokens, received events), recorded in
// kysely_migration_crm.
import type { ConnectorModule } from '../../src/port/index.ts';
import { bitrix24RestConnector, bitrix24PullMigrations } from './bitrix24/index.ts';
import { bitrix24EventMigrations, dealsConnector, eventsConnector, webhooksExchange } from './bitrix24/events/index.ts';

export const crmModule: ConnectorModule = {
  name: 'crm',
  connectors: [bitrix24RestConnector, eventsConnector, dealsConnector],
  exchanges: [webhooksExchange],
  migrations: { ...bitrix24PullMigrations, ...bitrix24EventMigrations },
};

export { bitrix24RestConnector };
