// The 1C exchange endpoint (`/exchange/onec/:exchange`): registered with the pipeline's registry when
// imported (connectors/index.ts does), mounted by the HTTP server. Other exchange types (type=sale) plug
// in through registerExchangeType.
import { registerExchange } from '../../../src/pipeline/connector.ts';
import { onecExchangePlugin } from './router.ts';
// type=sale (orders to 1C and their changes back) registers itself with the router.
import './sale.ts';

export const ONEC_EXCHANGE_PREFIX = '/exchange/onec';

registerExchange({ prefix: ONEC_EXCHANGE_PREFIX, plugin: onecExchangePlugin });

export { registerExchangeType, catalogHandler, type ExchangeCall, type ExchangeReply, type ExchangeTypeHandler, type ModeHandler } from './router.ts';
export { ExchangeFailure, type ReceivedFile } from './files.ts';
export { exchangeOptionsProperties, exchangeOf, type ExchangeSettings } from './options.ts';
export { COOKIE_NAME, sessionGroup, type ExchangeSession } from './sessions.ts';
export type { Answer } from './imports.ts';
export { saleOptionsProperties } from './sale-options.ts';
