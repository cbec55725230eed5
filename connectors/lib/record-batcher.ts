// Groups records into batches of a fixed size as a parser produces them, so a reader can hand out
// full batches between chunks and the rest at the end. One copy, shared by the CSV and XML readers.

export class RecordBatcher<T> {
  private readonly size: number;
  private batch: T[] = [];
  private readonly ready: T[][] = [];

  /** @param size records per batch (at least 1) */
  constructor(size: number) {
    this.size = Math.max(1, size);
  }

  push(rec: T): void {
    const b = this.batch;
    b.push(rec);
    if (b.length >= this.size) {
      this.ready.push(b);
      this.batch = [];
    }
  }

  /** Full batches, taken out. */
  take(): T[][] {
    return this.ready.splice(0, this.ready.length);
  }

  /** The last, partial batch (after the end of the input); may be empty. */
  flush(): T[] {
    const b = this.batch;
    this.batch = [];
    return b;
  }
}
