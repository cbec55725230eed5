// The extract stage: one read loop over a run's payload (or over one file shared by several runs)
// feeding a sink per run — staged (COPY into UNLOGGED staging) or direct (first load into an empty fact table).
export { extractRun, type ExtractOutcome } from './extract-run.ts';
export { extractBlocked } from './claim-pass.ts';
export { copyText, writeWithBackpressure } from './copy.ts';
export { compileRunMappings, effectiveMode, type RunMappings, type RunMode } from './mappings.ts';
export { PathHints, stagingLine } from './path-hints.ts';
export { RejectWriter, type RejectRow } from './rejects.ts';
export { analyzeWithin, Resolver } from './resolver.ts';
