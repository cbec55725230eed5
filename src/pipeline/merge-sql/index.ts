// The merge compiler: from a target's spec and a run's context to the SQL its merge runs, with values
// and row types. Pure (no client, no I/O): merge.ts and snapshot-group.ts run what it returns.
export { Params, statement, type CountRow, type Statement } from './statement.ts';
export { flowSwitches, removesNow, type MergeSqlContext } from './context.ts';
export { joinRef, factKey, keyedKey, sameKey, creatable } from './keys.ts';
export { stagingExists, stagedRows, dropStaging } from './staging.ts';
export { anyUnknown, createPlaceholders, rejectUnknown, analyzeExternalIds, ANALYZE_AFTER_CREATED } from './references.ts';
export { rejectDuplicates } from './duplicates.ts';
export { compileFact, type FactMerge } from './fact.ts';
export { compileDimension, type DimensionMerge } from './dimension.ts';
export { compileKeyed, type KeyedMerge } from './keyed.ts';
export { compileFinalize, groupRuns, keepsStagingStatement, type FinalizeRemoval, type FinalizeSqlContext, type GroupRun } from './finalize.ts';
export { compilePeriods, periodRowsPresent, inForceStatement, rollStatement, type InForceCounts, type PeriodsMerge } from './periods.ts';
