// One pull of an S/4HANA OData v2 entity set: pages read with `$top`/`$skip` (client paging) or by the
// server's `__next` links (server paging), each entry shaped into flat records written as NDJSON lines.
//
// Incremental pulls (`deltaField`, e.g. A_Product's LastChangeDateTime) read in (timestamp, key) order
// and page by keyset instead of `$skip`: each page asks for `T gt t or (T eq t and Key gt 'k')` after
// the last entry read, and the cursor keeps that last (t, k). So entries sharing one timestamp across a
// page border (a mass change stamps thousands of products with the same second) are neither lost nor
// read twice, and an entry changed during the pull moves behind the keyset instead of shifting a `$skip`
// window over an entry not yet read (which `$skip` paging would silently lose).
import { SapODataClient, sapPageUrl, type SapPage } from './client.ts';
import { Aggregator, shapeEntry, wireDateMs } from './json.ts';
import { resolveSapOptions, type SapODataOptions } from './options.ts';
import { PullError, type PullContext, type PullHandle, type PullResult } from '../../../src/port/index.ts';

/** What an incremental pull keeps between pulls: the last (timestamp, key) read, in read order. */
export interface DeltaCursor {
  /** What the entries were read with; a flow whose query changed starts again from nothing. */
  query: string;
  /** Milliseconds of the last entry's delta field, and the same as an ISO instant (for people). */
  since: number;
  sinceIso: string;
  key: string;
}

/** Everything that changes which entries and fields a pull reads: new fields must reach the store. */
function querySignature(o: SapODataOptions): string {
  return JSON.stringify([o.url, o.entitySet, o.sapClient ?? '', o.filter ?? '', o.select ?? [], o.expand ?? [], o.deltaField, o.keyField,
    o.explode ?? '', o.pick ?? {}, o.keyBy ?? {}, o.pairs ?? {}, o.aggregate ?? {}]);
}

function previousCursor(cursor: unknown, query: string): DeltaCursor | undefined {
  const c = cursor as Partial<DeltaCursor> | undefined;
  if (!c || c.query !== query || typeof c.since !== 'number' || typeof c.key !== 'string') return undefined;
  return c as DeltaCursor;
}

/** An OData v2 literal of the delta field's type for an instant. */
export function deltaLiteral(type: SapODataOptions['deltaType'], ms: number): string {
  const iso = new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
  return type === 'datetimeoffset' ? `datetimeoffset'${iso}'` : `datetime'${iso.replace(/Z$/, '')}'`;
}

/** `$filter` of the page after (t, k): the flow's own filter and the keyset condition. */
export function keysetFilter(o: SapODataOptions, after: { since: number; key: string } | undefined): string | undefined {
  if (!after || !o.deltaField) return o.filter;
  const t = deltaLiteral(o.deltaType, after.since);
  const k = `'${after.key.replace(/'/g, "''")}'`;
  const keyset = `(${o.deltaField} gt ${t} or (${o.deltaField} eq ${t} and ${o.keyField} gt ${k}))`;
  return o.filter ? `(${o.filter}) and ${keyset}` : keyset;
}

/** Payload file name: the entity set, readable in run listings. */
export function sapPayloadFileName(o: Pick<SapODataOptions, 'entitySet'>): string {
  return `${o.entitySet}.ndjson`;
}

/** Incremental pulls must read the key and the delta field even when `select` forgets them. */
function withDeltaFields(o: SapODataOptions): SapODataOptions {
  if (!o.deltaField || !o.select) return o;
  const select = [...o.select];
  for (const f of [o.keyField!, o.deltaField]) if (!select.includes(f)) select.push(f);
  return { ...o, select };
}

async function* readPages(o: SapODataOptions, ctx: PullContext): AsyncGenerator<string, PullResult, undefined> {
  const client = new SapODataClient(o, ctx);
  const origin = new URL(o.url).origin;
  const query = querySignature(o);
  const previous = o.deltaField ? previousCursor(ctx.cursor, query) : undefined;
  let last: { since: number; key: string } | undefined = previous;
  let records = 0;
  let seen = 0;
  let total: number | undefined;
  const started = Date.now();
  const shape = { explode: o.explode, pick: o.pick, keyBy: o.keyBy, pairs: o.pairs };
  const orderBy = o.deltaField ? `${o.deltaField},${o.keyField}` : o.orderBy;
  const sums = o.aggregate ? new Aggregator(o.aggregate) : undefined;

  /** Reads one window (a first URL and the `__next` links after it); answers its entries and their lines. */
  async function* window(first: string, label: string): AsyncGenerator<string, number, undefined> {
    let url: string | undefined = first;
    let n = 0;
    for (let link = 0; url; link++) {
      ctx.signal?.throwIfAborted();
      const page: SapPage = await client.page(url, link ? `${label}, next link ${link}` : label);
      if (page.count !== undefined) total ??= page.count;
      let out = '';
      for (const entry of page.entries) {
        seen++;
        n++;
        if (o.deltaField) {
          const key = entry[o.keyField!];
          const t = entry[o.deltaField];
          if (key === undefined || key === null || typeof key === 'object') {
            throw new PullError('MAG_ERR_PULL_FAILED', `sap.odata ${o.entitySet}: entry ${seen} has no ${o.keyField}; an incremental pull needs it (keyField)`);
          }
          const ms = wireDateMs(t);
          if (t !== null && t !== undefined && ms === undefined) {
            throw new PullError('MAG_ERR_PULL_FAILED', `sap.odata ${o.entitySet}: entry ${seen} (${o.keyField} ${String(key)}): ${o.deltaField} ${JSON.stringify(t)} is not an OData date (/Date(…)/)`);
          }
          // Never-changed entries (no timestamp) sort first and are read by the first pull only.
          if (ms !== undefined) last = { since: ms, key: String(key) };
        }
        for (const rec of shapeEntry(entry, shape)) {
          if (sums) {
            const problem = sums.add(rec);
            if (problem) throw new PullError('MAG_ERR_PULL_FAILED', `sap.odata ${o.entitySet}: entry ${seen}: ${problem}; records cannot be summed (aggregate)`);
            continue;
          }
          out += `${JSON.stringify(rec)}\n`;
          records++;
        }
      }
      if (out) yield out;
      url = page.next;
      if (url && new URL(url).origin !== origin) {
        throw new PullError('MAG_ERR_PULL_FAILED', `sap.odata ${o.entitySet}: the server's next link points to ${new URL(url).origin}, not to ${origin}; not followed (credentials stay with the flow's host)`);
      }
    }
    return n;
  }

  if (o.paging === 'server') {
    yield* window(sapPageUrl(o, { filter: keysetFilter(o, last), orderBy, count: true }), 'first page');
  } else {
    for (let skip = 0, pageNo = 1; ; pageNo++) {
      // Keyset pages (incremental) start after the last entry read; plain pages at $skip.
      const url = o.deltaField
        ? sapPageUrl(o, { filter: keysetFilter(o, last), orderBy, top: o.pageSize, count: pageNo === 1 })
        : sapPageUrl(o, { filter: o.filter, orderBy, top: o.pageSize, skip, count: pageNo === 1 });
      const before = last;
      const n = yield* window(url, o.deltaField ? `page ${pageNo}` : `page at $skip=${skip}`);
      if (n < o.pageSize) break;
      if (o.deltaField && last === before) {
        // A full page of entries without a timestamp: the keyset cannot move past them.
        throw new PullError('MAG_ERR_PULL_FAILED', `sap.odata ${o.entitySet}: a full page of ${n} entries has no ${o.deltaField}; an incremental pull cannot page past them (add "${o.deltaField} ne null" to the filter, or drop deltaField)`);
      }
      if (o.deltaField && before && last && (last.since < before.since || (last.since === before.since && last.key <= before.key))) {
        // The server ignored the keyset condition or the order: asking again would loop over the same entries.
        throw new PullError('MAG_ERR_PULL_FAILED', `sap.odata ${o.entitySet}: page ${pageNo} did not move past ${o.deltaField} ${new Date(before.since).toISOString()} / ${o.keyField} '${before.key}'; the service ignores $filter or $orderby on ${o.deltaField},${o.keyField}, so an incremental pull cannot page it`);
      }
      if (n > o.pageSize) {
        // The server ignored $top and sent everything at once: asking for the next page would repeat it.
        ctx.log.warn({ flow: ctx.flow, entitySet: o.entitySet, pageSize: o.pageSize, got: n }, 'sap.odata: the server ignored $top; the answer is taken as complete');
        break;
      }
      skip += o.pageSize;
      // $inlinecount told how many there are: no empty page needed to learn the end.
      if (!o.deltaField && total !== undefined && skip >= total) break;
    }
  }
  if (sums) {
    let out = '';
    for (const rec of sums.records()) {
      out += `${JSON.stringify(rec)}\n`;
      records++;
      if (out.length > 1 << 20) {
        yield out;
        out = '';
      }
    }
    if (out) yield out;
  }
  ctx.log.info({ flow: ctx.flow, entitySet: o.entitySet, entries: seen, records, count: total, ms: Date.now() - started }, 'sap.odata pull read');
  if (!o.deltaField) return { records, changed: true };
  if (seen === 0 && previous) return { records, cursor: ctx.cursor, changed: false };
  const cursor: DeltaCursor | undefined = last ? { query, since: last.since, sinceIso: new Date(last.since).toISOString(), key: last.key } : undefined;
  return { records, cursor, changed: records > 0 };
}

export function pullSapOData(ctx: PullContext): PullHandle {
  const o = withDeltaFields(resolveSapOptions(ctx.options));
  return { fileName: sapPayloadFileName(o), body: readPages(o, ctx) };
}
