// Loading mapping files: read once and kept while the file is unchanged (every run compiles its flow's
// mappings), read again when it changes, and each caller gets a copy of its own.
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMapping } from '../../src/mapping/index.ts';

const doc = (description: string) => `apiVersion: magistral/v1
kind: Mapping
name: m
description: ${description}
target: prices
fields:
  product: { from: sku }
  priceType: { from: price_type }
  price: { from: price, transforms: [decimal] }
  currency: { from: currency, default: RUB }
`;

describe('loadMapping', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'magistral-mapping-')); });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('reads a changed file again, even one of the same size', async () => {
    const file = path.join(dir, 'm.yaml');
    await writeFile(file, doc('first'));
    expect((await loadMapping('m.yaml', dir)).description).toBe('first');
    await writeFile(file, doc('other'));
    // Same size; a later mtime (set explicitly: two writes may share a clock tick).
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    expect((await loadMapping('m.yaml', dir)).description).toBe('other');
  });

  it('gives every caller its own copy', async () => {
    const a = await loadMapping('m.yaml', dir);
    a.fields.price!.from = 'changed by a caller';
    expect((await loadMapping('m.yaml', dir)).fields.price!.from).toBe('price');
  });

  it('still names a file that is gone', async () => {
    await rm(path.join(dir, 'm.yaml'));
    await expect(loadMapping('m.yaml', dir)).rejects.toThrow(/file not found/);
  });
});
