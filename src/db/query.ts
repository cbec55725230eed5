// One way to run SQL with typed results: a statement carries its text, its values and (as a type only)
// the row it returns, so callers never see pg's `any` rows and compiled SQL can be tested without a client.
import type pg from 'pg';

/** SQL text with positional parameters ($1 …) and their values; `Row` is what each result row holds. */
export interface Statement<Row extends object = object> {
  readonly text: string;
  readonly values: readonly unknown[];
  /** Never set: carries the row type from where the SQL is built to where it runs. */
  readonly row?: Row;
}

/** A count(*)::bigint; int8 arrives as a number (the type parser set in src/db/index.ts). */
export interface CountRow {
  n: number;
}

/** A pool or a checked-out client: whatever can run one statement. */
export type Queryable = Pick<pg.ClientBase, 'query'> | Pick<pg.Pool, 'query'>;

export function statement<Row extends object = object>(text: string, values: readonly unknown[] = []): Statement<Row> {
  return { text, values };
}

async function run(client: Queryable, s: Statement): Promise<pg.QueryResult<pg.QueryResultRow>> {
  return client.query<pg.QueryResultRow>(s.text, [...s.values]);
}

/** Every row the statement returns. */
export async function query<Row extends object>(client: Queryable, s: Statement<Row>): Promise<Row[]> {
  return (await run(client, s)).rows as Row[];
}

/** The one row the statement returns (an aggregate, an EXISTS); fails when there is none. */
export async function queryOne<Row extends object>(client: Queryable, s: Statement<Row>): Promise<Row> {
  const [row] = await query(client, s);
  if (!row) throw new Error(`statement returned no row: ${s.text.trim().slice(0, 80)}`);
  return row;
}

/** A count(*)::bigint AS n as a number. */
export async function queryCount(client: Queryable, s: Statement<CountRow>): Promise<number> {
  return Number((await queryOne(client, s)).n);
}

/** Runs a statement for its effect; returns how many rows it touched (rowCount). */
export async function execute(client: Queryable, s: Statement): Promise<number> {
  return (await run(client, s)).rowCount ?? 0;
}
