// Bitrix24 events (/exchange/webhooks/<flow>) and orders out as deals: the parts the crm module lists.
export { webhooksExchange, WEBHOOKS_PREFIX } from './exchange.ts';
export { eventsConnector } from './connector.ts';
export { bitrix24EventMigrations } from './migrations.ts';
export { drainFlow, drainOnce, EventDrain, type DrainReport } from './drain.ts';
export { parseForm, readEvent, encodeForm, FormFieldError, KNOWN_EVENTS, type Bitrix24Event, type FormTree } from './form.ts';
export { dealsConnector, dealFields, productRows, type DealsOptions } from '../deals/deals.ts';
export { DEFAULT_STAGES, ruleOf, stageChange } from '../deals/stages.ts';
