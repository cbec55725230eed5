// The statements the merge compiler returns: SQL text, its values, and the row type each one yields.
// Numbered parameters are handed out in the order the text uses them, so text and values cannot drift.
import { statement, type CountRow, type Statement } from '../../db/query.ts';

export { statement, type CountRow, type Statement };

/** Hands out `$n` for named values, numbering each name once, on first use. */
export class Params {
  readonly values: unknown[] = [];
  private readonly index = new Map<string, number>();

  /** The placeholder of `name` (bound to `value` on first use). */
  ref(name: string, value: unknown): string {
    let n = this.index.get(name);
    if (n === undefined) {
      this.values.push(value);
      n = this.values.length;
      this.index.set(name, n);
    }
    return `$${n}`;
  }
}
