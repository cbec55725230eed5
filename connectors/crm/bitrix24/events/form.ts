// A Bitrix24 event as it arrives: an application/x-www-form-urlencoded body with PHP-style nested keys
// (`data[FIELDS][ID]=2917`, `auth[application_token]=…`), read into a tree, then checked field by field
// so a refusal names the field that is missing or malformed.

/** A form value: text, or a branch of nested keys. */
export type FormTree = { [key: string]: string | FormTree };

/** The CRM events this endpoint takes, by the entity they name. */
export const ENTITY_EVENTS = {
  company: ['ONCRMCOMPANYADD', 'ONCRMCOMPANYUPDATE', 'ONCRMCOMPANYDELETE'],
  contact: ['ONCRMCONTACTADD', 'ONCRMCONTACTUPDATE', 'ONCRMCONTACTDELETE'],
  requisite: ['ONCRMREQUISITEADD', 'ONCRMREQUISITEUPDATE', 'ONCRMREQUISITEDELETE'],
  deal: ['ONCRMDEALUPDATE'],
} as const;
export type EventEntity = keyof typeof ENTITY_EVENTS;
export const KNOWN_EVENTS: readonly string[] = Object.values(ENTITY_EVENTS).flat();

export interface Bitrix24Event {
  /** Upper case, as Bitrix24 names it: ONCRMCOMPANYUPDATE. */
  event: string;
  entity: EventEntity;
  /** The entity was deleted (a …DELETE event): there is nothing to fetch. */
  deleted: boolean;
  /** data[FIELDS][ID]: the only thing an event says about the entity. */
  id: string;
  /** ts: seconds since the epoch when Bitrix24 raised the event. */
  ts: string;
  /** auth[application_token]: compared with the flow's token, never stored or logged. */
  token: string;
  /** auth[domain]: the portal that sent it (kept for the log). */
  domain: string | null;
  handlerId: string | null;
}

/** A refusal naming the field (the endpoint answers 400 with it). */
export class FormFieldError extends Error {
  constructor(readonly field: string, detail: string) {
    super(`${field}: ${detail}`);
    this.name = 'FormFieldError';
  }
}

const MAX_DEPTH = 6;
const MAX_FIELDS = 200;

/** `a[b][c]` → ['a', 'b', 'c']; undefined when the brackets do not close as PHP writes them. */
function keyPath(key: string): string[] | undefined {
  const open = key.indexOf('[');
  if (open < 0) return [key];
  const parts = [key.slice(0, open)];
  let rest = key.slice(open);
  while (rest.length) {
    const m = /^\[([^[\]]*)\]/.exec(rest);
    if (!m) return undefined;
    parts.push(m[1]!);
    rest = rest.slice(m[0].length);
  }
  return parts;
}

/**
 * Reads an urlencoded body into a tree. Refuses (naming the key) what Bitrix24 never sends and what
 * would make the tree ambiguous: a key that is both a value and a branch, brackets that do not close,
 * nesting deeper than a few levels, too many fields.
 */
export function parseForm(body: string): FormTree {
  const tree: FormTree = {};
  const params = new URLSearchParams(body);
  let n = 0;
  for (const [key, value] of params) {
    if (++n > MAX_FIELDS) throw new FormFieldError('(body)', `more than ${MAX_FIELDS} fields`);
    const path = keyPath(key);
    if (!path || !path[0] || path.some((p) => p === '')) throw new FormFieldError(key || '(empty key)', 'not a field name of the form name or name[key][key]');
    if (path.length > MAX_DEPTH) throw new FormFieldError(key, `nested deeper than ${MAX_DEPTH} levels`);
    let node: FormTree = tree;
    for (let i = 0; i < path.length - 1; i++) {
      const p = path[i]!;
      const next = node[p];
      if (typeof next === 'string') throw new FormFieldError(path.slice(0, i + 1).join('.'), 'given both as a value and with nested keys');
      node = next ?? (node[p] = {});
    }
    const last = path.at(-1)!;
    if (typeof node[last] === 'object') throw new FormFieldError(path.join('.'), 'given both as a value and with nested keys');
    node[last] = value;
  }
  return tree;
}

function text(tree: FormTree, path: readonly string[], what: string, pattern?: RegExp): string {
  let v: string | FormTree | undefined = tree;
  for (const p of path) v = typeof v === 'object' ? v[p] : undefined;
  const name = path[0] + path.slice(1).map((p) => `[${p}]`).join('');
  if (v === undefined || v === '') throw new FormFieldError(name, `missing (${what})`);
  if (typeof v !== 'string') throw new FormFieldError(name, `expected a value (${what}), got nested keys`);
  if (pattern && !pattern.test(v)) throw new FormFieldError(name, `${JSON.stringify(v.slice(0, 40))} is not ${what}`);
  return v;
}

function optional(tree: FormTree, path: readonly string[]): string | null {
  let v: string | FormTree | undefined = tree;
  for (const p of path) v = typeof v === 'object' ? v[p] : undefined;
  return typeof v === 'string' && v !== '' ? v : null;
}

/** The event of a form tree, or FormFieldError naming what is missing or malformed. */
export function readEvent(tree: FormTree): Bitrix24Event {
  const event = text(tree, ['event'], 'the event name').toUpperCase();
  const entity = (Object.keys(ENTITY_EVENTS) as EventEntity[]).find((k) => (ENTITY_EVENTS[k] as readonly string[]).includes(event));
  if (!entity) throw new FormFieldError('event', `'${event.slice(0, 60)}' is not an event this endpoint takes (${KNOWN_EVENTS.join(', ')})`);
  const id = text(tree, ['data', 'FIELDS', 'ID'], 'a positive integer id', /^[1-9][0-9]{0,18}$/);
  const ts = text(tree, ['ts'], 'a Unix time in seconds', /^[0-9]{1,12}$/);
  const token = text(tree, ['auth', 'application_token'], 'the application token');
  return {
    event, entity, deleted: event.endsWith('DELETE'), id, ts, token,
    domain: optional(tree, ['auth', 'domain']), handlerId: optional(tree, ['event_handler_id']),
  };
}

/** The form body of an event (what Bitrix24 posts), for tests and examples: nested keys from a tree. */
export function encodeForm(tree: FormTree): string {
  const out = new URLSearchParams();
  const walk = (node: FormTree, prefix: string): void => {
    for (const [k, v] of Object.entries(node)) {
      const key = prefix ? `${prefix}[${k}]` : k;
      if (typeof v === 'string') out.append(key, v);
      else walk(v, key);
    }
  };
  walk(tree, '');
  return out.toString();
}
