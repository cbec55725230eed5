// The kit's record batcher: full batches are handed out as they fill, the partial rest at the end.
import { describe, expect, it } from 'vitest';
import { RecordBatcher } from '../../../connectors/lib/index.ts';

describe('RecordBatcher', () => {
  it('hands out full batches in order and the rest at the end', () => {
    const b = new RecordBatcher<number>(3);
    for (let i = 1; i <= 7; i++) b.push(i);
    expect(b.take()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(b.take()).toEqual([]);
    expect(b.flush()).toEqual([7]);
    expect(b.flush()).toEqual([]);
  });

  it('an exact multiple leaves nothing to flush', () => {
    const b = new RecordBatcher<string>(2);
    for (const s of ['a', 'b', 'c', 'd']) b.push(s);
    expect(b.take()).toEqual([['a', 'b'], ['c', 'd']]);
    expect(b.flush()).toEqual([]);
  });

  it('a size below one means batches of one', () => {
    const b = new RecordBatcher<number>(0);
    b.push(1);
    b.push(2);
    expect(b.take()).toEqual([[1], [2]]);
  });
});
