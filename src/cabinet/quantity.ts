// Quantities typed by a buyer: a positive decimal, a comma accepted as the decimal separator (a Russian
// keyboard types «1,5»), spaces between digit groups ignored; the exact text goes to PostgreSQL numeric.

export type QuantityParse = { ok: true; value: string } | { ok: false; message: string };

/** numeric(20, 6) of cart_lines and order_lines: up to 14 integer and 6 fraction digits. */
const DECIMAL = /^[0-9]{1,14}(\.[0-9]{1,6})?$/;

export function parseQuantity(raw: unknown): QuantityParse {
  if (raw === undefined || raw === null || String(raw).trim() === '') return { ok: false, message: 'Укажите количество' };
  const text = String(raw).trim().replace(/[\s\u00a0\u202f]/g, '').replace(',', '.');
  if (/^-/.test(text)) return { ok: false, message: `Количество не может быть отрицательным: «${String(raw).trim()}»` };
  if (!/^[0-9]*\.?[0-9]*$/.test(text) || !/[0-9]/.test(text)) return { ok: false, message: `«${String(raw).trim()}» — не число; укажите количество цифрами, например 5 или 2,5` };
  const normal = text.startsWith('.') ? `0${text}` : text.endsWith('.') ? text.slice(0, -1) : text;
  if (!/[1-9]/.test(normal)) return { ok: false, message: 'Количество должно быть больше нуля' };
  if (!DECIMAL.test(normal)) return { ok: false, message: `Количество «${String(raw).trim()}» слишком велико или точнее 6 знаков после запятой` };
  return { ok: true, value: normal };
}

/** A whole number as text (`2`, `2.000`): what a product sold in pieces accepts. */
export const isWhole = (value: string): boolean => /^[0-9]+(\.0*)?$/.test(value);
