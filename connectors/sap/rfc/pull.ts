// One pull over RFC: a table read page by page through RFC_READ_TABLE (FIELDS, OPTIONS as the WHERE
// clause in 72-character lines, ROWSKIPS/ROWCOUNT paging, DATA rows split at the DELIMITER), or one call
// of a configured BAPI whose result table becomes the records. Every record is one NDJSON line of the
// payload, field name → text as SAP gave it (trimmed; packed numbers' trailing minus put in front).
import { connectionParams, nodeRfcFactory, rfcError, type RfcClient, type RfcClientFactory } from './client.ts';
import { resolveRfcOptions, type RfcBapiCall, type RfcTableRead, type SapRfcOptions } from './options.ts';
import { PullError, type PullContext, type PullHandle, type PullResult } from '../../../src/port/index.ts';

/** RFC_READ_TABLE's OPTIONS lines hold 72 characters each (TAB512 is wider, the function reads 72). */
const OPTION_LINE = 72;

/** A WHERE clause as OPTIONS lines: split at spaces outside quoted literals (a literal cannot span two lines). */
export function whereLines(where: string): Array<{ TEXT: string }> {
  // Chunks between blanks outside literals: `('FERT','HAWA')` stays one chunk, written as given.
  const tokens: string[] = [];
  const re = /(?:'(?:[^']|'')*'|[^\s'])+/g;
  for (let m = re.exec(where); m; m = re.exec(where)) tokens.push(m[0]);
  if (where.replace(re, '').trim()) throw new PullError('MAG_ERR_PULL_FAILED', `sap.rfc: the WHERE clause has an unterminated quoted literal: ${where.slice(0, 80)}`);
  const lines: string[] = [];
  let line = '';
  for (const t of tokens) {
    if (t.length > OPTION_LINE) throw new PullError('MAG_ERR_PULL_FAILED', `sap.rfc: the WHERE clause has a part longer than ${OPTION_LINE} characters (${t.slice(0, 40)}…); RFC_READ_TABLE reads 72 per line`);
    if (line && line.length + 1 + t.length > OPTION_LINE) {
      lines.push(line);
      line = t;
    } else line = line ? `${line} ${t}` : t;
  }
  if (line) lines.push(line);
  return lines.map((TEXT) => ({ TEXT }));
}

interface FieldInfo { FIELDNAME: string; OFFSET: number; LENGTH: number; TYPE: string }

function fieldInfo(raw: unknown): FieldInfo[] {
  return (Array.isArray(raw) ? raw : []).map((f: Record<string, unknown>) => ({
    FIELDNAME: String(f.FIELDNAME ?? '').trim(),
    OFFSET: Number(f.OFFSET ?? 0),
    LENGTH: Number(f.LENGTH ?? 0),
    TYPE: String(f.TYPE ?? 'C').trim(),
  }));
}

/** One value of a DATA row as text: trimmed; `10.00-` (ABAP's sign of packed numbers) → `-10.00`; an initial date → empty. */
export function abapValue(v: string, type: string): string {
  const s = v.trim();
  if ((type === 'P' || type === 'F' || type === 'I' || type === 'b' || type === 's') && /^[0-9.,Ee+]+-$/.test(s)) return `-${s.slice(0, -1)}`;
  if (type === 'D' && /^0{8}$/.test(s)) return '';
  return s;
}

/** A DATA row → record: split at the delimiter; when a value holds the delimiter itself, cut at FIELDS' offsets instead. */
export function splitRow(wa: string, fields: FieldInfo[], delimiter: string): Record<string, string> {
  const parts = wa.split(delimiter);
  const rec: Record<string, string> = {};
  if (parts.length === fields.length) {
    fields.forEach((f, i) => (rec[f.FIELDNAME] = abapValue(parts[i]!, f.TYPE)));
  } else {
    for (const f of fields) rec[f.FIELDNAME] = abapValue(wa.slice(f.OFFSET, f.OFFSET + f.LENGTH), f.TYPE);
  }
  return rec;
}

async function* readTable(client: RfcClient, t: RfcTableRead, ctx: PullContext, counter: { records: number }): AsyncGenerator<string, void, undefined> {
  const options = t.where ? whereLines(t.where) : [];
  for (let skip = 0; ; skip += t.rowCount) {
    ctx.signal?.throwIfAborted();
    const res = await client.call(t.function, {
      QUERY_TABLE: t.name,
      DELIMITER: t.delimiter,
      FIELDS: t.fields.map((FIELDNAME) => ({ FIELDNAME })),
      OPTIONS: options,
      ROWSKIPS: skip,
      ROWCOUNT: t.rowCount,
    });
    const fields = fieldInfo(res.FIELDS);
    const data = Array.isArray(res.DATA) ? (res.DATA as Array<Record<string, unknown>>) : undefined;
    if (!data || fields.length !== t.fields.length) {
      throw new PullError('MAG_ERR_PULL_FAILED', `sap.rfc ${t.function} ${t.name}: the answer has ${data ? `${fields.length} FIELDS for ${t.fields.length} asked` : 'no DATA table'}`);
    }
    let out = '';
    for (const row of data) {
      const rec = splitRow(String(row.WA ?? ''), fields, t.delimiter);
      for (const f of t.alphaOut) if (rec[f] && /^\d+$/.test(rec[f])) rec[f] = rec[f].replace(/^0+(?=\d)/, '');
      out += `${JSON.stringify(rec)}\n`;
      counter.records++;
    }
    if (out) yield out;
    if (data.length < t.rowCount) return;
  }
}

function flat(v: unknown, key: string, out: Record<string, string>): void {
  if (v === null || v === undefined) return;
  if (typeof v === 'string') out[key] = v.trim();
  else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') out[key] = String(v);
  else if (Buffer.isBuffer(v)) out[key] = v.toString('hex').toUpperCase();
  else if (Array.isArray(v)) v.forEach((x, i) => flat(x, `${key}/${i}`, out));
  else if (typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) flat(x, key ? `${key}/${k}` : k, out);
}

/** A BAPI's RETURN (a structure or a table of BAPIRET2): its errors and aborts, as text. */
export function bapiErrors(ret: unknown): string[] {
  const list = Array.isArray(ret) ? ret : ret && typeof ret === 'object' ? [ret] : [];
  return (list as Array<Record<string, unknown>>)
    .filter((r) => r.TYPE === 'E' || r.TYPE === 'A')
    .map((r) => `${r.TYPE}${r.ID ? ` ${String(r.ID).trim()}` : ''}${r.NUMBER ? ` ${String(r.NUMBER).trim()}` : ''}: ${String(r.MESSAGE ?? '').trim()}`);
}

async function* callBapi(client: RfcClient, b: RfcBapiCall, counter: { records: number }): AsyncGenerator<string, void, undefined> {
  const res = await client.call(b.function, b.params);
  const errors = bapiErrors(res.RETURN);
  if (errors.length) throw new PullError('MAG_ERR_PULL_FAILED', `sap.rfc ${b.function}: ${errors.join('; ').slice(0, 800)}`);
  const rows = res[b.resultTable];
  if (!Array.isArray(rows)) throw new PullError('MAG_ERR_PULL_FAILED', `sap.rfc ${b.function}: the answer has no table ${b.resultTable} (it has ${Object.keys(res).join(', ') || 'nothing'})`);
  let out = '';
  for (const row of rows) {
    const rec: Record<string, string> = {};
    flat(row, '', rec);
    out += `${JSON.stringify(rec)}\n`;
    counter.records++;
    if (out.length > 1 << 20) {
      yield out;
      out = '';
    }
  }
  if (out) yield out;
}

async function* read(o: SapRfcOptions, ctx: PullContext, factory: RfcClientFactory): AsyncGenerator<string, PullResult, undefined> {
  const params = connectionParams(o, ctx.env);
  let client: RfcClient;
  try {
    client = await factory(params);
  } catch (e) {
    throw rfcError(e, 'logon');
  }
  const counter = { records: 0 };
  const started = Date.now();
  try {
    if (o.table) yield* readTable(client, o.table, ctx, counter);
    else yield* callBapi(client, o.bapi!, counter);
  } catch (e) {
    if (ctx.signal?.aborted) throw e;
    throw rfcError(e, o.table ? `${o.table.function} ${o.table.name}` : o.bapi!.function);
  } finally {
    await client.close();
  }
  ctx.log.info({ flow: ctx.flow, source: o.table?.name ?? o.bapi?.function, records: counter.records, ms: Date.now() - started }, 'sap.rfc pull read');
  return { records: counter.records, changed: true };
}

export function rfcPayloadFileName(o: SapRfcOptions): string {
  return `${(o.table?.name ?? o.bapi!.function).replace(/^\/|\/$/g, '').replace(/\//g, '_')}.ndjson`;
}

/** The pull of the connector, with the RFC client factory given (node-rfc by default). */
export function pullSapRfc(factory: RfcClientFactory = nodeRfcFactory): (ctx: PullContext) => PullHandle {
  return (ctx) => {
    const o = resolveRfcOptions(ctx.options);
    return { fileName: rfcPayloadFileName(o), body: read(o, ctx, factory) };
  };
}
