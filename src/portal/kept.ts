// A bounded map for what the API keeps between requests (contexts, rankings, answers): at most `max`
// entries, the oldest written going first. What it holds is checked against a change version by its
// users (migration 0008), never trusted on its own.
export class Kept<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, value);
  }
}
