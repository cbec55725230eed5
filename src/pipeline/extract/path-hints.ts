// Which staged rows carry their element path (PathHints), and the staging COPY line of a canonical
// row: its fields as text, its position, whether it is a rejected row's key, and that path.
import type pg from 'pg';
import type { Flow } from '../../schemas/index.ts';
import { autoCreates } from '../flows.ts';
import { refsOf, type TargetSpec } from '../targets.ts';
import { copyText } from './copy.ts';

/** Codes a reference may hold before its set is not worth keeping in memory to tell rows apart. */
const PATH_HINT_CODES = 100_000;

/**
 * Which staged rows carry their element path. The merge rejects a row whose reference the run cannot
 * create (a price type 1C never declared) and names its file and line; the path says which element that
 * is (one-line files have a single line). Writing every row's path would double a price's staged bytes,
 * so the codes of those references are read when the extract starts (what the run depends on has merged
 * by then) and only a row naming another code gets its path. A reference with more codes than
 * PATH_HINT_CODES is not checked: its rejects name file and line only.
 */
export class PathHints {
  private constructor(
    private readonly checks: Array<{ field: string; known: Set<string> }>,
    /** Validity fields of a target with periods: a period ending before it starts is rejected by the merge. */
    private readonly validity?: { from: string; to: string },
  ) {}

  static async load(pool: Pick<pg.Pool, 'query'>, flow: Flow, spec: TargetSpec, opts: { refs?: boolean } = {}): Promise<PathHints> {
    const system = flow.source.system ?? 'local';
    const checks: Array<{ field: string; known: Set<string> }> = [];
    for (const ref of opts.refs === false ? [] : refsOf(spec)) {
      if (autoCreates(flow, ref.entity)) continue;
      // Counted first (an index-only scan), so a reference with too many codes costs no transfer.
      const n = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT 1 FROM external_ids WHERE entity = $1 AND system = $2 LIMIT $3) x`, [ref.entity, system, PATH_HINT_CODES + 1]);
      if (Number(n.rows[0]!.n) > PATH_HINT_CODES) continue;
      const r = await pool.query<{ c: string }>(`SELECT external_id AS c FROM external_ids WHERE entity = $1 AND system = $2`, [ref.entity, system]);
      checks.push({ field: ref.field, known: new Set(r.rows.map((x) => x.c)) });
    }
    const p = spec.kind === 'fact' ? spec.periods : undefined;
    return new PathHints(checks, p ? { from: p.validFrom, to: p.validTo } : undefined);
  }

  /** Whether the merge will likely reject this row: for a reference, or for its validity. */
  unknown(v: Record<string, string | boolean>): boolean {
    if (this.validity) {
      const from = v[this.validity.from];
      const to = v[this.validity.to];
      // Days compared as text (YYYY-MM-DD…): a superset of what the merge rejects, which is enough to keep a path.
      if (typeof from === 'string' && typeof to === 'string' && to.slice(0, 10) <= from.slice(0, 10)) return true;
    }
    for (let i = 0; i < this.checks.length; i++) {
      const c = this.checks[i]!;
      const code = v[c.field];
      if (typeof code === 'string' && code !== '' && !c.known.has(code)) return true;
    }
    return false;
  }
}

/**
 * A staging COPY line of a canonical row: its fields as text, then its position, `_reject`, and the
 * element path when `hints` expect the merge to reject the row, or when the line alone does not name the
 * element (lineage, issue 15: the history of a change keeps the path). A pretty-printed export (1C puts
 * each element on its own line) stages no path at all; in a file written on one line (an IDoc-XML port)
 * every record after the first of its line carries its path — the first is the line's first element.
 * Measured on 1C's sample 05 (3 price types): a staged price is 151 bytes; its full path would add 145.
 */
export function stagingLine(spec: TargetSpec, hints?: PathHints): (v: Record<string, string | boolean>, line: number | undefined, fi: number, reject: boolean, path?: string) => string {
  const fields = spec.fields;
  let lastLine: number | undefined;
  let lastFile = -1;
  return (v, line, fi, reject, path) => {
    let out = '';
    for (let i = 0; i < fields.length; i++) out += copyText(v[fields[i]!]) + '\t';
    const shared = line !== undefined && line === lastLine && fi === lastFile;
    lastLine = line;
    lastFile = fi;
    const p = path !== undefined && !reject && (shared || hints?.unknown(v)) ? copyText(path) : '\\N';
    return `${out}${line ?? '\\N'}\t${fi}\t${reject ? 't' : 'f'}\t${p}\n`;
  };
}
