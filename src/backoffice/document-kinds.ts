// Kinds of documents the portal keeps, with the Russian names the pages and e-mails show. One list, so
// the order page, the documents section, e-mails and the file batches agree.

export const ORDER_DOCUMENT_KINDS = {
  invoice: 'Счёт на оплату',
  payment: 'Оплата',
  shipment: 'Отгрузка',
  upd: 'УПД',
  waybill: 'Товарная накладная',
  'invoice-facture': 'Счёт-фактура',
  act: 'Акт',
} as const;
export type OrderDocumentKind = keyof typeof ORDER_DOCUMENT_KINDS;

export const CLIENT_DOCUMENT_KINDS = {
  contract: 'Договор',
  supplement: 'Дополнительное соглашение',
} as const;
export type ClientDocumentKind = keyof typeof CLIENT_DOCUMENT_KINDS;

/** The Russian name of a kind; an unknown kind (a flow's own) as it came. */
export function documentKindName(kind: string): string {
  return (ORDER_DOCUMENT_KINDS as Record<string, string>)[kind] ?? (CLIENT_DOCUMENT_KINDS as Record<string, string>)[kind] ?? kind;
}

/**
 * A kind as people write it in a manifest (the code, or its Russian name in any case: «УПД», «Счет-фактура»,
 * «ТОРГ-12», «Акт»), or undefined.
 */
export function parseOrderDocumentKind(v: string): OrderDocumentKind | undefined {
  const t = v.trim().toLowerCase().replace(/ё/g, 'е').replace(/\s+/g, ' ');
  if (t in ORDER_DOCUMENT_KINDS) return t as OrderDocumentKind;
  const names: Record<string, OrderDocumentKind> = {
    'счет на оплату': 'invoice', 'счет': 'invoice', 'платежный документ': 'payment', 'платежное поручение': 'payment',
    'отгрузка': 'shipment', 'реализация': 'shipment', 'упд': 'upd', 'универсальный передаточный документ': 'upd',
    'товарная накладная': 'waybill', 'накладная': 'waybill', 'торг-12': 'waybill', 'торг12': 'waybill',
    'счет-фактура': 'invoice-facture', 'счет фактура': 'invoice-facture', 'сф': 'invoice-facture', 'акт': 'act', 'акт выполненных работ': 'act',
  };
  return names[t];
}
