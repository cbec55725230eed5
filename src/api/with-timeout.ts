// Bounds how long a dependency check may take, so a hung PostgreSQL or Redis turns into a clear
// failure of /readyz or /metrics instead of a request that never answers.

/** Resolves like `work`, or rejects with `<what> did not answer within <ms> ms`. */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  // The losing promise may still reject later: keep that from becoming an unhandled rejection.
  work.catch(() => {});
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
