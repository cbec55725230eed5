// The registry tests use: every connector module of the build, as the composition root builds it.
import { CONNECTOR_MODULES } from '../../connectors/index.ts';
import { Registry } from '../../src/pipeline/registry.ts';

export const registry = new Registry(CONNECTOR_MODULES);
