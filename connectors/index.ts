// Registers every connector with the pipeline's registry when imported. Entry points (CLI, workers,
// server) import this module; nothing under src/ does, so the core never depends on a connector.
import { registerConnector } from '../src/pipeline/connector.ts';
import { csvConnector } from './file/csv.ts';
// The 1C exchange endpoint (/exchange/onec/:exchange) registers itself with the server's registry.
import './onec/exchange/index.ts';
import { odataConnector } from './onec/odata/index.ts';
import { commercemlConnector } from './onec/commerceml/index.ts';

registerConnector(csvConnector);
registerConnector(odataConnector);
registerConnector(commercemlConnector);

export { csvConnector, odataConnector, commercemlConnector };
