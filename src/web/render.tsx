// Server-side rendering of the web pages: preact components to HTML strings. A whole page gets the
// doctype; an htmx swap gets the fragment alone. Pages are never cached by browsers or proxies (they
// carry the buyer's own prices and the session's CSRF token).
import type { FastifyReply } from 'fastify';
import type { VNode } from 'preact';
import { render } from 'preact-render-to-string';

export function sendPage(reply: FastifyReply, page: VNode, status = 200): FastifyReply {
  return reply.code(status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store')
    .send(`<!doctype html>${render(page)}`);
}

export function sendFragment(reply: FastifyReply, fragment: VNode, status = 200): FastifyReply {
  return reply.code(status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(render(fragment));
}

/** Money as Russians write it: thin groups, comma decimals, 2 digits ("1 234,50 ₽"). Exact: works on the decimal string. */
export function money(value: string | null | undefined, currency?: string | null): string {
  if (value === null || value === undefined) return '—';
  const neg = value.startsWith('-');
  const [int = '0', frac = ''] = value.replace('-', '').split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0');
  const sign = currency === 'RUB' || currency === 'RUR' || currency == null ? '₽' : currency;
  return `${neg ? '−' : ''}${grouped},${(frac + '00').slice(0, 2)}\u00a0${sign}`;
}

/** A quantity without trailing zeros, comma decimals ("12,5"). */
export function qty(value: string | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const s = value.includes('.') ? value.replace(/0+$/, '').replace(/\.$/, '') : value;
  const [int = '0', frac] = s.split('.');
  return `${int.replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0')}${frac ? `,${frac}` : ''}`;
}

/** Russian plural: plural(5, 'товар', 'товара', 'товаров'). */
export function plural(n: number, one: string, few: string, many: string): string {
  const m10 = n % 10;
  const m100 = n % 100;
  if (m10 === 1 && m100 !== 11) return one;
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return few;
  return many;
}

const UNIT_NAMES: Record<string, string> = { pcs: 'шт', PCE: 'шт', '796': 'шт', m: 'м', MTR: 'м', '006': 'м', kg: 'кг', KGM: 'кг', '166': 'кг', pack: 'уп', set: 'компл' };
/** A unit code as buyers read it ("pcs" → "шт"); unknown codes as they are. */
export const unitName = (code: string | null | undefined): string => (code ? UNIT_NAMES[code] ?? code : '');
