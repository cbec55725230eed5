// Registers every connector with the pipeline's registry when imported. Entry points (CLI, workers,
// server) import this module; nothing under src/ does, so the core never depends on a connector.
import { registerConnector } from '../src/pipeline/connector.ts';
import { csvConnector } from './file/csv.ts';

registerConnector(csvConnector);

export { csvConnector };
