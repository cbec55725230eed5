// Bitrix24's REST parameters travel PHP-style (`filter[>DATE_MODIFY]=…`, `select[]=ID`, and inside a
// batch each command is `method?query`, encoded a second time). Encoder and decoder of that form; the
// decoder serves the in-process test server and anything that reads Bitrix24's own form posts.

/** `{ filter: { '>ID': 5 }, select: ['ID'] }` → `[['filter[>ID]', '5'], ['select[0]', 'ID']]`. */
export function flattenParams(params: Record<string, unknown>, prefix = ''): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(params)) {
    const key = prefix ? `${prefix}[${k}]` : k;
    if (v === undefined) continue;
    if (v === null) out.push([key, '']);
    else if (Array.isArray(v)) {
      v.forEach((x, i) => {
        if (x !== null && typeof x === 'object') out.push(...flattenParams(x as Record<string, unknown>, `${key}[${i}]`));
        else out.push([`${key}[${i}]`, String(x)]);
      });
    } else if (v instanceof Date) out.push([key, v.toISOString()]);
    else if (typeof v === 'object') out.push(...flattenParams(v as Record<string, unknown>, key));
    else if (typeof v === 'boolean') out.push([key, v ? 'Y' : 'N']);
    else out.push([key, String(v as string | number)]);
  }
  return out;
}

/** The form body (or query string) of params. */
export function encodeParams(params: Record<string, unknown>): string {
  return flattenParams(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

/** One batch command: `crm.company.list?start=50&filter%5B%3EID%5D=5`. */
export function batchCommand(method: string, params?: Record<string, unknown>): string {
  const q = params ? encodeParams(params) : '';
  return q ? `${method}?${q}` : method;
}

/** Reads a PHP-style query or form body back into nested objects (numeric keys stay object keys). */
export function decodeParams(text: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const m = /^([^[]*)((?:\[[^\]]*\])*)$/.exec(rawKey);
    const head = m ? m[1]! : rawKey;
    const parts = m && m[2] ? [...m[2].matchAll(/\[([^\]]*)\]/g)].map((x) => x[1]!) : [];
    let node = root;
    const path = [head, ...parts];
    for (let i = 0; i < path.length - 1; i++) {
      let key = path[i]!;
      if (key === '') key = String(Object.keys(node).length);
      const next = node[key];
      if (!next || typeof next !== 'object') node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    let last = path[path.length - 1]!;
    if (last === '') last = String(Object.keys(node).length);
    node[last] = value;
  }
  return root;
}
