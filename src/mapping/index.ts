// The mapping stage's public face: loading and checking mapping files, compiling them into row
// functions, database-backed id lookups and the runner of a mapping's own test cases.
export * from './load.ts';
export { compileMapping, warmValidators, fieldSchemas, fieldValueChecks, usesLookups, checkMappingTarget, requiredColumns, allColumns, type CompiledMapping, type CompileOptions, type LookupSource, type MapResult } from './compile.ts';
export { dbLookups } from './lookups.ts';
export { runMappingTests, type MappingTestResult } from './test-runner.ts';
export { parseDecimal, parseNumber, roundDecimal, multiplyDecimal, divideDecimal, trimFraction } from './decimal.ts';
export { listMappingFiles, locateMapping, type MappingLocation } from './files.ts';
