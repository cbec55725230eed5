// Flow files: every problem with its path, rule and line in the YAML; defaults filled; all or nothing.
import { describe, expect, it } from 'vitest';
import { parseFlowFile } from '../../src/pipeline/flows.ts';
import { MagistralError } from '../../src/errors/index.ts';
import { registry } from '../helpers/registry.ts';

const good = `apiVersion: magistral/v1
kind: Flow
name: ok-flow
source: { connector: file.csv }
mapping: file/prices.yaml
target: prices
mode: delta
`;

describe('flow files', () => {
  it('fills the defaults of a good flow', async () => {
    const [f] = await parseFlowFile(good, 'ok.yaml', registry);
    expect(f).toMatchObject({ name: 'ok-flow', scope: 'flow', autoCreate: true, history: true, source: { system: 'local', options: {} }, retry: { attempts: 8, backoff: 'exponential', delayMs: 1000 } });
  });

  it('lists every problem of every document with its line, and refuses the whole file', async () => {
    const text = `${good}---
apiVersion: magistral/v1
kind: Flow
name: ok-flow
source:
  connector: file.csv
  options: { delimiter: "#" }
mapping: file/stock.yaml
target: prices
mode: sideways
`;
    const err = (await parseFlowFile(text, 'two.yaml', registry).catch((e: unknown) => e)) as MagistralError;
    expect(err).toBeInstanceOf(MagistralError);
    expect(err.code).toBe('MAG_ERR_FLOW_INVALID');
    const found = err.problems.map((p) => `${p.line}:${p.path}:${p.rule}`).sort();
    expect(found).toEqual([
      '14:[1]/source/options/delimiter:enum',
      '15:[1]/mapping:target',
      '17:[1]/mode:enum',
    ].sort());
    expect(err.message).toContain('line 17:7 [1]/mode');
    expect(err.problems.find((p) => p.rule === 'target')!.message).toContain("writes 'stock'");
  });

  it('refuses the same flow name twice in one file', async () => {
    const err = (await parseFlowFile(`${good}---\n${good}`, 'dup.yaml', registry).catch((e: unknown) => e)) as MagistralError;
    expect(err.problems).toEqual([expect.objectContaining({ path: '[1]/name', rule: 'unique' })]);
  });

  it('reports broken YAML with its position', async () => {
    const err = (await parseFlowFile('name: [unclosed\n', 'broken.yaml', registry).catch((e: unknown) => e)) as MagistralError;
    expect(err.problems[0]).toMatchObject({ rule: 'yaml' });
    expect(err.problems[0]!.path).toMatch(/^broken\.yaml:\d+:\d+$/);
  });
});
