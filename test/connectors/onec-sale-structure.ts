// Structural check of sale documents against 1C-Bitrix's real answer to mode=query (sample 08): every
// element path the sample has is present in ours, children in the sample's order, and nothing appears
// that CommerceML does not define for an order document. A tiny tree reader (saxes) for tests only.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import { SaxesParser } from 'saxes';
import { ONEC_SAMPLES } from '../helpers/samples.ts';

export const SAMPLES = ONEC_SAMPLES;

export interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

/** Decodes by the XML declaration (windows-1251 or UTF-8) and returns the root element. */
export function readTree(bytes: Buffer): El {
  const head = bytes.subarray(0, 100).toString('latin1');
  const enc = /encoding="([^"]+)"/i.exec(head)?.[1]?.toLowerCase() ?? 'utf-8';
  const text = enc === 'windows-1251' ? iconv.decode(bytes, 'win1251') : bytes.toString('utf8');
  const parser = new SaxesParser({ xmlns: false });
  const stack: El[] = [];
  let root: El | undefined;
  parser.on('opentag', (t) => {
    const el: El = { name: t.name, attrs: Object.fromEntries(Object.entries(t.attributes).map(([k, v]) => [k, String(v)])), children: [], text: '' };
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('text', (t) => {
    if (stack.length) stack[stack.length - 1]!.text += t;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.write(text).close();
  if (!root) throw new Error('no root element');
  return root;
}

export function sampleTree(name: string): El {
  return readTree(readFileSync(path.join(SAMPLES, name)));
}

export function child(el: El, name: string): El | undefined {
  return el.children.find((c) => c.name === name);
}

export function all(el: El, name: string): El[] {
  return el.children.filter((c) => c.name === name);
}

/** Requisites (Наименование → Значение) of an element's ЗначенияРеквизитов, in order. */
export function requisites(el: El): Array<[string, string]> {
  const box = child(el, 'ЗначенияРеквизитов');
  return (box ? all(box, 'ЗначениеРеквизита') : []).map((r) => [child(r, 'Наименование')?.text.trim() ?? '', child(r, 'Значение')?.text.trim() ?? '']);
}

/** For every element path: its distinct child names in first-seen order. */
export function childOrder(root: El): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (el: El, p: string) => {
    const list = out.get(p) ?? [];
    for (const c of el.children) {
      if (!list.includes(c.name)) list.push(c.name);
      walk(c, `${p}/${c.name}`);
    }
    out.set(p, list);
  };
  walk(root, `/${root.name}`);
  return out;
}

const DOC = '/КоммерческаяИнформация/Документ';
const AGENT = `${DOC}/Контрагенты/Контрагент`;
const ITEM = `${DOC}/Товары/Товар`;

/**
 * Elements of sample 08 we may leave out, and where CommerceML offers an alternative: an organisation
 * has ЮридическийАдрес instead of a person's АдресРегистрации; after 2.05 a unit is Единица+Коэффициент.
 */
const OPTIONAL = new Set([`${ITEM}/ИдКаталога`, `${AGENT}/АдресРегистрации`, `${ITEM}/БазоваяЕдиница`]);
/** Elements CommerceML (and 1C-Bitrix's exporter) write in an order document beyond those of sample 08. */
const EXTRA: Record<string, string[]> = {
  [AGENT]: ['ОфициальноеНаименование', 'ЮридическийАдрес', 'ИНН', 'КПП', 'РасчетныеСчета', 'Контакты', 'Представители'],
  [ITEM]: ['Единица', 'Коэффициент'],
};
/** Where a present optional element must sit, relative to the sample's siblings. */
const REFERENCE_ORDER: Record<string, string[]> = {
  [AGENT]: ['Ид', 'Наименование', 'ПолноеНаименование', 'ОфициальноеНаименование', 'ЮридическийАдрес', 'ИНН', 'КПП',
    'АдресРегистрации', 'РасчетныеСчета', 'Контакты', 'Представители', 'Роль'],
  [ITEM]: ['Ид', 'ИдКаталога', 'Наименование', 'БазоваяЕдиница', 'Единица', 'Коэффициент', 'ЦенаЗаЕдиницу', 'Количество', 'Сумма', 'ЗначенияРеквизитов'],
};

/**
 * Problems of `ours` against the sample's structure (empty: same structure), checked on every element
 * of ours: its children are ones the sample has at that path (or CommerceML extras), none the sample
 * requires is missing, and they come in the sample's order.
 */
export function structureProblems(ours: El, sample: El): string[] {
  const problems = new Set<string>();
  const want = childOrder(sample);
  if (ours.name !== sample.name) problems.add(`root is ${ours.name}, not ${sample.name}`);
  const seen = new Set<string>();
  const walk = (el: El, p: string, inExtra: boolean) => {
    seen.add(p);
    const names = [...new Set(el.children.map((c) => c.name))];
    if (!inExtra) {
      const sampleNames = want.get(p);
      if (!sampleNames) problems.add(`unexpected element path ${p}`);
      else {
        for (const n of names) if (!sampleNames.includes(n) && !(EXTRA[p] ?? []).includes(n)) problems.add(`unexpected element ${p}/${n}`);
        for (const n of sampleNames) if (!names.includes(n) && !OPTIONAL.has(`${p}/${n}`)) problems.add(`missing element ${p}/${n}`);
        const order = REFERENCE_ORDER[p] ?? sampleNames;
        const positions = names.filter((n) => order.includes(n)).map((n) => order.indexOf(n));
        if (positions.some((x, i) => i > 0 && x < positions[i - 1]!)) problems.add(`children of ${p} out of order: ${names.join(', ')}`);
      }
    }
    for (const c of el.children) walk(c, `${p}/${c.name}`, inExtra || (EXTRA[p] ?? []).includes(c.name));
  };
  walk(ours, `/${ours.name}`, false);
  for (const p of want.keys()) {
    if (!seen.has(p) && ![...OPTIONAL].some((o) => p === o || p.startsWith(`${o}/`))) problems.add(`missing element path ${p}`);
  }
  return [...problems];
}
