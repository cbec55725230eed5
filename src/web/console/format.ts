// How the console writes times, ages and rates in Russian (Moscow time: the ERP administrators' clock).
import { plural, qty } from '../render.tsx';

const TIME = new Intl.DateTimeFormat('ru-RU', { timeZone: 'Europe/Moscow', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

export const when = (d: Date | null | undefined): string => (d ? TIME.format(d) : '—');

/** "45 с", "12 мин", "3 ч 5 мин", "2 дн 4 ч". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} с`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} мин`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} ч${m % 60 ? ` ${m % 60} мин` : ''}`;
  const d = Math.floor(h / 24);
  return `${d} ${plural(d, 'день', 'дня', 'дней')}${h % 24 ? ` ${h % 24} ч` : ''}`;
}

export const ago = (d: Date | null | undefined, now = Date.now()): string => (d ? `${duration((now - d.getTime()) / 1000)} назад` : 'никогда');

export const count = (n: number): string => n.toLocaleString('ru-RU');

/** Run states as the console names them. */
export const RUN_STATE: Readonly<Record<string, string>> = {
  received: 'принят', extracting: 'разбор', staged: 'подготовлен', merging: 'запись', done: 'готов', failed: 'ошибка', held: 'задержан', rejected: 'отклонён',
};

export const runStateClass = (state: string): string =>
  state === 'done' ? 'badge badge-ok' : state === 'failed' || state === 'rejected' ? 'badge badge-error' : state === 'held' ? 'badge badge-warn' : 'badge';

/**
 * An exact decimal as the store gives it ("21272.190000") the way a Russian reader writes it
 * ("21 272,19"): the cabinet's quantity form (trailing zeros dropped), a fraction kept to two digits.
 */
export function decimalRu(v: string | null | undefined): string {
  const s = qty(v);
  const comma = s.indexOf(',');
  return comma >= 0 && s.length - comma - 1 < 2 ? s.padEnd(comma + 3, '0') : s;
}

/** A share as "66,7 %". */
export const percentRu = (share: number): string => `${(share * 100).toFixed(1).replace('.', ',')}\u00a0%`;
