// Errors that mean "the database (or another dependency) is out of reach right now", as opposed to
// "this statement is wrong": the caller may retry once it is back. Seen during `pg_ctl restart -m fast`
// (test/faults): 57P01 admin_shutdown to every session, "Connection terminated unexpectedly" to
// statements in flight, ECONNREFUSED while it is down, 57P03 cannot_connect_now while it starts.

const CODES = new Set([
  // Node's socket errors (pg and ioredis alike).
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  // PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now, and the connection_exception class.
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006',
]);

// pg's own wording for a connection that ended or never came (no code on these).
const MESSAGES = /Connection terminated|not queryable|timeout exceeded when trying to connect|the database system is (starting up|shutting down|in recovery mode)/i;

/** Whether `e` (or what it wraps: `cause`, an AggregateError's errors) says a dependency is unreachable. */
export function isDependencyUnavailable(e: unknown, depth = 0): boolean {
  if (!e || typeof e !== 'object' || depth > 4) return false;
  const { code, message, cause } = e as { code?: unknown; message?: unknown; cause?: unknown };
  if (typeof code === 'string' && CODES.has(code)) return true;
  if (typeof message === 'string' && MESSAGES.test(message)) return true;
  if (e instanceof AggregateError && e.errors.some((x) => isDependencyUnavailable(x, depth + 1))) return true;
  return isDependencyUnavailable(cause, depth + 1);
}
