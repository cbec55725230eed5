// The 1C "exchange with site" endpoint (`/exchange/onec/:exchange`): the fastify plugin answering its
// types (catalog: files and their import; sale: orders both ways), and the connector's own migrations.
import type { ExchangeEndpoint } from '../../../src/port/index.ts';
import { catalogHandler, onecExchangePlugin } from './router.ts';
import { saleHandler } from './sale.ts';

export const ONEC_EXCHANGE_PREFIX = '/exchange/onec';

export const onecExchange: ExchangeEndpoint = {
  prefix: ONEC_EXCHANGE_PREFIX,
  plugin: onecExchangePlugin({ catalog: catalogHandler, sale: saleHandler }),
};

export { onecMigrations } from './migrations.ts';
export { catalogHandler, type ExchangeCall, type ExchangeReply, type ExchangeTypeHandler, type ModeHandler } from './router.ts';
export { saleHandler } from './sale.ts';
export { ExchangeFailure, type ReceivedFile } from './files.ts';
export { exchangeOptionsProperties, exchangeOf, type ExchangeSettings } from './options.ts';
export { COOKIE_NAME, sessionGroup, type ExchangeSession } from './sessions.ts';
export type { Answer } from './imports.ts';
export { saleOptionsProperties } from './sale-options.ts';
