// Checks that PostgreSQL and Redis answer, each bounded by a short timeout. Used by /readyz and by
// the metrics scrape (magistral_dependency_up), so both report the same view of the dependencies.
import { sql, type Kysely } from 'kysely';
import type { Redis } from 'ioredis';
import type { Database } from '../db/index.ts';
import type { Queues } from '../pipeline/queues.ts';
import { withTimeout } from './with-timeout.ts';

export const CHECK_TIMEOUT_MS = 1500;

export async function checkPostgres(db: Kysely<Database>, ms = CHECK_TIMEOUT_MS): Promise<void> {
  await withTimeout(sql`select 1`.execute(db), ms, 'PostgreSQL');
}

/** PINGs `redis` when given, else the connection the queues use. */
export async function checkRedis(queues: Queues, redis?: Redis, ms = CHECK_TIMEOUT_MS): Promise<void> {
  const ping = async (): Promise<string> => {
    // The queues' connection is the ioredis client createQueues made; bullmq types it more narrowly.
    const client = (redis ?? (await queues.extract.client)) as unknown as Pick<Redis, 'ping'>;
    return client.ping();
  };
  const answer = await withTimeout(ping(), ms, 'Redis');
  if (answer !== 'PONG') throw new Error(`Redis answered ${JSON.stringify(answer)} to PING`);
}

export function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
