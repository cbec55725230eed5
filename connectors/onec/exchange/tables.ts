// The 1C exchange's own tables (its migrations in ./migrations.ts): sessions of the exchange protocol
// and the files received in them. Only this connector reads or writes them.
import type { ColumnType, Generated, Kysely } from 'kysely';
import type { ConnectorPort } from '../../../src/port/index.ts';

type Timestamp = Date;

export interface OnecSessionsTable {
  id: string;
  exchange: string;
  token_hash: Buffer;
  sessid_hash: Buffer;
  user_name: string;
  remote_addr: string | null;
  dir: string;
  zip: Generated<boolean>;
  file_limit: number;
  data: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Generated<Timestamp>;
  last_seen_at: Generated<Timestamp>;
  expires_at: Timestamp;
  closed_at: Timestamp | null;
  abandoned_at: Timestamp | null;
}
export type OnecFileState = 'receiving' | 'unpacking' | 'unpacked' | 'preparing' | 'imported' | 'failed';
export interface OnecFilesTable {
  id: Generated<number>;
  session_id: string;
  name: string;
  path: string;
  size_bytes: Generated<number>;
  chunks: Generated<number>;
  archive: string | null;
  state: Generated<OnecFileState>;
  lease_until: Timestamp | null;
  sha256: string | null;
  error: string | null;
  run_ids: Generated<number[]>;
  /** Bumped when the file is sent again after its import: its runs are then received anew. */
  generation: Generated<number>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}


export interface OnecTables {
  onec_sessions: OnecSessionsTable;
  onec_files: OnecFilesTable;
}

/** The connector's own tables, through the port. */
export const onecTables = (port: ConnectorPort): Kysely<OnecTables> => port.tables<OnecTables>();
