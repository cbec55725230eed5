// `type=sale&mode=info`: the reference lists 1C reads before exchanging orders — our order statuses,
// and the payment systems and delivery services configured on the flow — in 1C-Bitrix's shape.
import iconv from 'iconv-lite';
import { escapeXml, type SaleEncoding } from '../commerceml/order-writer.ts';
import type { NamedItem } from './sale-options.ts';
import type { OrderStatus } from '../../../src/port/index.ts';

/**
 * Справочник / Статусы, ПлатежныеСистемы, СлужбыДоставки, each a list of Элемент (Ид, Название; ТипОплаты
 * for payment systems). 1C-Bitrix spells «Cтатусы» with a Latin C (a typo in its language file); we
 * write the Cyrillic word the 1C side documents.
 */
export function renderSaleInfo(statuses: readonly OrderStatus[], paymentSystems: readonly NamedItem[], deliveryServices: readonly NamedItem[], encoding: SaleEncoding): Buffer {
  const e = (v: string) => escapeXml(v, encoding);
  const lines: string[] = [`<?xml version="1.0" encoding="${encoding === 'utf-8' ? 'UTF-8' : 'windows-1251'}"?>`, '<Справочник>'];
  const list = (name: string, items: ReadonlyArray<{ id: string; name: string; type?: string }>, withType: boolean) => {
    if (!items.length) {
      lines.push(`  <${name}/>`);
      return;
    }
    lines.push(`  <${name}>`);
    for (const it of items) {
      lines.push('    <Элемент>', `      <Ид>${e(it.id)}</Ид>`, `      <Название>${e(it.name)}</Название>`);
      if (withType && it.type) lines.push(`      <ТипОплаты>${e(it.type)}</ТипОплаты>`);
      lines.push('    </Элемент>');
    }
    lines.push(`  </${name}>`);
  };
  list('Статусы', statuses.map((s) => ({ id: s.code, name: s.name })), false);
  list('ПлатежныеСистемы', paymentSystems, true);
  list('СлужбыДоставки', deliveryServices, false);
  lines.push('</Справочник>', '');
  const text = lines.join('\n');
  return encoding === 'utf-8' ? Buffer.from(text, 'utf8') : iconv.encode(text, 'win1251');
}
