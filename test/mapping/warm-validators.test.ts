// A worker compiles the canonical validators as it starts (compile.ts warmValidators): its first run's
// mapping then compiles without them. Checked by what ajv would compile at that run: nothing new.
import { describe, expect, it } from 'vitest';
import { compileMapping, loadMapping, warmValidators } from '../../src/mapping/index.ts';
import { ajv } from '../../src/schemas/index.ts';

describe('warmValidators', () => {
  it('leaves nothing for a first mapping of each target to compile', async () => {
    warmValidators();
    const compile = ajv.compile.bind(ajv);
    let compiled = 0;
    ajv.compile = ((schema: unknown) => {
      compiled++;
      return compile(schema as object);
    }) as typeof ajv.compile;
    try {
      for (const ref of ['onec/prices.yaml', 'onec/stock.yaml', 'onec/products.yaml', 'onec/warehouses.yaml']) {
        await compileMapping(await loadMapping(ref), { system: 'onec' });
      }
    } finally {
      ajv.compile = compile;
    }
    expect(compiled).toBe(0);
  });
});
