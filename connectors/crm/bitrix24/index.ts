// The bitrix24.rest connector: pulls companies, contacts, requisites (with bank details), the links of
// contacts to companies and the users assigned as managers from a Bitrix24 portal over REST (incoming
// webhook or OAuth application), paced below the portal's request limit; each pull is an NDJSON payload
// whose records name their kind (`bitrix24.company`, …: the mapping of that name reads them).
import type { Readable } from 'node:stream';
import { parseNdjson } from '../../lib/index.ts';
import { BITRIX24_OPTIONS_SCHEMA } from './options.ts';
import { pullBitrix24 } from './pull.ts';
import type { Connector, ParseContext, SourceRecord } from '../../../src/port/index.ts';

async function* parse(input: Readable, ctx: ParseContext): AsyncIterable<SourceRecord[]> {
  // An entity has an address of its own in the portal: name it in rejects (`bitrix24.requisite 17`).
  for await (const batch of parseNdjson(input, ctx, (d) => (d._kind && (d.ID ?? d.CONTACT_ID) ? `${d._kind} ${d.ID ?? `${d.COMPANY_ID}/${d.CONTACT_ID}/${d.REQUISITE_ID}`}` : undefined))) {
    for (const r of batch) {
      const kind = r.data._kind;
      if (kind !== undefined) {
        r.kind = kind;
        delete r.data._kind;
      }
    }
    yield ctx.kinds ? batch.filter((r) => r.kind === undefined || ctx.kinds!.has(r.kind)) : batch;
  }
}

export const bitrix24RestConnector: Connector = {
  kind: 'bitrix24.rest',
  optionsSchema: BITRIX24_OPTIONS_SCHEMA,
  parse,
  pull: pullBitrix24,
};

export { createBitrix24Client, Bitrix24Error, type Bitrix24Client, type Bitrix24Call, type Bitrix24ClientOptions, type Bitrix24BatchResult } from './client.ts';
export { LeakyBucket, type BucketOptions } from './pacing.ts';
export { sharedBucket, clearBuckets } from './buckets.ts';
export { memoryTokenStore, pgTokenStore, type TokenStore, type StoredToken } from './token-store.ts';
export { encodeParams, decodeParams, batchCommand } from './params.ts';
export { resolveBitrix24Options, type Bitrix24Options, type Bitrix24Entity } from './options.ts';
export { bitrix24PullMigrations } from './migrations.ts';
export { encodeKeys, decodeKeys, bitrix24ClientFor, type Bitrix24Cursor, type Bitrix24ClientContext } from './pull.ts';
