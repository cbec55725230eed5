// The CRM connector module (Bitrix24): pulled companies, contacts, requisites, contact links and
// managers (bitrix24.rest), and the module's own tables (OAuth tokens), recorded in kysely_migration_crm.
import type { ConnectorModule } from '../../src/port/index.ts';
import { bitrix24RestConnector, bitrix24PullMigrations } from './bitrix24/index.ts';

export const crmModule: ConnectorModule = {
  name: 'crm',
  connectors: [bitrix24RestConnector],
  migrations: { ...bitrix24PullMigrations },
};

export { bitrix24RestConnector };
