// One pull of a 1C OData resource: pages of `$top` entries read with `$skip` until a short page, each
// entry flattened to one NDJSON line of the payload. Incremental pulls remember each entry's
// DataVersion and emit only new or changed entries; registers' virtual tables are whole snapshots.
import { ODataClient } from './client.ts';
import { flattenEntry } from './json.ts';
import { resolveOptions, type ODataOptions } from './options.ts';
import { PullError, type PullContext, type PullHandle, type PullResult } from '../../../src/port/index.ts';

/** What an incremental pull keeps between pulls. */
export interface VersionCursor {
  /** What the versions were read with; a flow whose query changed starts again from nothing. */
  query: string;
  /** Key → version of every entry the last accepted pull saw. */
  versions: Record<string, string>;
}

/** Name of the entity set or register of a resource (`InformationRegister_Цены/SliceLast()` → `InformationRegister_Цены`). */
export function entitySetOf(resource: string): string {
  return resource.split(/[/(]/, 1)[0]!;
}

/** Payload file name: the resource and its virtual table, readable in run listings. */
export function payloadFileName(resource: string): string {
  const base = resource.replace(/\(.*$/s, '').replace(/\/+$/, '').replace(/\//g, '.');
  return `${base || 'odata'}.ndjson`;
}

/** Everything that changes which entries and fields a pull reads: new fields must reach the store. */
function querySignature(o: ODataOptions): string {
  return JSON.stringify([o.resource, o.filter ?? '', o.select ?? [], o.expand ?? [], o.keyField, o.versionField]);
}

function previousVersions(cursor: unknown, query: string): Map<string, string> | undefined {
  const c = cursor as Partial<VersionCursor> | undefined;
  if (!c || c.query !== query || !c.versions || typeof c.versions !== 'object') return undefined;
  return new Map(Object.entries(c.versions));
}

/** Incremental pulls must read the key and the version even when `select` forgets them. */
function withVersionFields(o: ODataOptions): ODataOptions {
  if (!o.incremental || !o.select) return o;
  const select = [...o.select];
  for (const f of [o.keyField, o.versionField]) if (!select.includes(f)) select.push(f);
  return { ...o, select };
}

async function* readPages(o: ODataOptions, ctx: PullContext): AsyncGenerator<string, PullResult, undefined> {
  const client = new ODataClient(o, ctx);
  const query = querySignature(o);
  const previous = o.incremental ? previousVersions(ctx.cursor, query) : undefined;
  const next = o.incremental ? new Map<string, string>() : undefined;
  let records = 0;
  let seen = 0;
  const started = Date.now();
  for (let skip = 0; ; skip += o.pageSize) {
    ctx.signal?.throwIfAborted();
    const entries = await client.page(skip);
    let out = '';
    for (const entry of entries) {
      seen++;
      const rec = flattenEntry(entry);
      if (next) {
        const key = rec[o.keyField];
        const version = rec[o.versionField];
        if (key === undefined || version === undefined) {
          throw new PullError('MAG_ERR_PULL_FAILED', `onec.odata ${o.resource}: entry ${seen} has no ${key === undefined ? o.keyField : o.versionField}; an incremental pull needs both (keyField, versionField)`);
        }
        next.set(key, version);
        if (previous?.get(key) === version) continue;
      }
      out += `${JSON.stringify(rec)}\n`;
      records++;
    }
    if (out) yield out;
    if (entries.length < o.pageSize) break;
    if (entries.length > o.pageSize) {
      // The server ignored $top and sent everything at once: asking for the next page would repeat it.
      ctx.log.warn({ flow: ctx.flow, resource: o.resource, pageSize: o.pageSize, got: entries.length }, 'onec.odata: the server ignored $top; the answer is taken as complete');
      break;
    }
  }
  ctx.log.info({ flow: ctx.flow, resource: o.resource, entries: seen, records, ms: Date.now() - started }, 'onec.odata pull read');
  if (!next) return { records, changed: true };
  // Nothing new and nothing gone: hand back the very cursor given (the core then need not store it).
  if (records === 0 && previous && previous.size === next.size) return { records, cursor: ctx.cursor, changed: false };
  const cursor: VersionCursor = { query, versions: Object.fromEntries(next) };
  // Nothing new, but entries may have vanished: the cursor still changes, without a run.
  return { records, cursor, changed: records > 0 };
}

export function pullOData(ctx: PullContext): PullHandle {
  const o = withVersionFields(resolveOptions(ctx.options));
  return { fileName: payloadFileName(o.resource), body: readPages(o, ctx) };
}
