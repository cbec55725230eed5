// Runs before every test file. nock 15 intercepts sockets through @mswjs/interceptors, which calls
// Promise.withResolvers (Node 22+); on Node 20 it must exist before the first connection (PostgreSQL,
// Redis) is made in a file that imports nock.
const P = Promise as unknown as { withResolvers?: unknown };
P.withResolvers ??= function withResolvers<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
};
