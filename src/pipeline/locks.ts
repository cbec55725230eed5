// Every advisory-lock namespace of the pipeline and the SQL that takes it, in one place, so two
// modules can never pick the same key for different things, nor different keys for the same thing.

/** Per-run extract lock (session level, + run id): one worker reads a run at a time. */
export const ADVISORY_EXTRACT = 0x4d41_0000_0000;
/** Per-file claim lock (session level, + runs.read_with): one shared pass at a time claims the runs of a file. */
export const ADVISORY_CLAIM = 0x4d43_0000_0000;
/** Per-run merge lock (session level, + run id): taken with the merge's claim, so one run is never merged twice at once. */
export const ADVISORY_MERGE = 0x4d4d_0000_0000;
/** Per-flow pull lock (session level, + flow id): one pull of a flow at a time. */
export const ADVISORY_PULL = 0x4d41_5000_0000;

/** Above this many codes per referenced entity a direct load's code maps cost too much worker memory: use staging. */
export const MAX_CODES = 500_000;

/** Session-level numeric locks (namespace + id): held until unlocked, across transactions. */
export const TRY_LOCK_SQL = 'SELECT pg_try_advisory_lock($1::bigint) AS ok';
export const LOCK_SQL = 'SELECT pg_advisory_lock($1::bigint)';
export const UNLOCK_SQL = 'SELECT pg_advisory_unlock($1::bigint)';

/** Session-level named locks (PostgreSQL hashes the name into the int4 range, below every numeric namespace above). */
export const TRY_NAMED_LOCK_SQL = 'SELECT pg_try_advisory_lock(hashtext($1)) AS ok';
export const NAMED_UNLOCK_SQL = 'SELECT pg_advisory_unlock(hashtext($1))';

/** Transaction-level named locks (PostgreSQL hashes the name): released at COMMIT or ROLLBACK. */
export const XACT_LOCK_SQL = 'SELECT pg_advisory_xact_lock(hashtext($1))';
export const TRY_XACT_LOCK_SQL = 'SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok';

/**
 * The merge lock of a target. Taken exclusively, one merge (or direct load, finalize, price roll) of the
 * target at a time: concurrent merges into the same rows would deadlock. A fact's plain merge takes it
 * shared and then the partition locks below, so merges of disjoint price types (warehouses) run at once.
 */
export const mergeLockName = (target: string): string => `magistral:merge:${target}`;
/** Transaction-level named lock, shared: held by any number of partition-locked merges at once. */
export const SHARED_XACT_LOCK_SQL = 'SELECT pg_advisory_xact_lock_shared(hashtext($1))';
/**
 * The partition locks of a fact target (price types, warehouses: the partition key ids in $2), taken in
 * ascending id order in one statement, so two merges that share ids never wait on each other crosswise.
 * Two-key locks (hash of the target's lock name, id) never meet the one-key namespaces above; the only
 * other two-key class is the catalog offers build's (src/portal/offers.ts, a constant no name here hashes to).
 */
export const PARTITION_LOCKS_SQL = 'SELECT pg_advisory_xact_lock(hashtext($1), s.id) FROM (SELECT DISTINCT id FROM unnest($2::int[]) id ORDER BY id) s';
/** One send of an order through an outbound flow at a time (two versions' jobs must not both create it). */
export const outboundLockName = (flowId: number, orderId: number): string => `magistral:outbound:${flowId}:${orderId}`;
/** One creator of placeholders per entity and source system at a time. */
export const createLockName = (entity: string, system: string): string => `magistral:create:${entity}:${system}`;

export const extractLockKey = (runId: number): number => ADVISORY_EXTRACT + runId;
export const mergeLockKey = (runId: number): number => ADVISORY_MERGE + runId;
export const claimLockKey = (readWith: number): number => ADVISORY_CLAIM + readWith;
export const pullLockKey = (flowId: number): number => ADVISORY_PULL + flowId;
