// Orders as the connector port shows them: an order going out to a remote system, and the changes a
// remote system reports on our orders. Depends on nothing of the core but the orders module's types, so
// both the connector interface and the port object may refer to it.
import type { OrderChange } from '../orders/index.ts';

/** An order as it goes out to an ERP: canonical fields plus the external ids of one system. */
export interface OutboundOrder {
  id: number;
  number: string;
  createdAt: Date;
  currency: string;
  total: string;
  comment: string | null;
  status: { code: string; name: string; final: boolean; at: Date };
  erpNumber: string | null;
  erpDate: Date | null;
  paid: boolean;
  paidAt: Date | null;
  shipped: boolean;
  shippedAt: Date | null;
  cancelled: boolean;
  legalEntity: {
    /** The legal entity's id in the system, else its portal code. */
    externalId: string;
    /** The legal entity's id in the system exactly (an SAP customer number), null when it has none. */
    systemId: string | null;
    /** The legal entity's portal code. */
    code: string; name: string; fullName: string | null; inn: string | null; kpp: string | null; address: string | null;
    bankName: string | null; bik: string | null; account: string | null; corrAccount: string | null;
  };
  client: {
    /** The client's id in the system exactly (a CRM company id), null when it has none. */
    systemId: string | null;
    email: string | null; phone: string | null;
  };
  contact: {
    externalId: string | null;
    /** The contact's id in the system exactly (a CRM contact id), null when it has none (externalId is then its portal code). */
    systemId: string | null;
    name: string; email: string | null; phone: string | null;
  } | null;
  lines: OutboundOrderLine[];
}

export interface OutboundOrderLine {
  lineNo: number;
  /** The product's id in the system (a plain one before a `guid#characteristic` one), else its code, else the line's SKU. */
  externalId: string;
  /** The product's id in the system exactly (an SAP material number), null when it has none. */
  systemId: string | null;
  /** The SKU the line was ordered by. */
  sku: string;
  name: string;
  quantity: string;
  price: string;
  amount: string;
  unit: string | null;
  product: { unitCode: string | null; unitName: string | null; unitOkei: string | null };
}

/** An order version handed out: the order and its `updated_at` to the microsecond, as text. */
export interface OrderVersion {
  id: number;
  version: string;
}

/** A change an ERP reports on one of our orders, found by our numbers first, else by its ERP number. */
export interface ExternalOrderChange {
  refs: { numbers: string[]; erpNumber?: string };
  change: OrderChange;
  /**
   * The status only moves forward (by the statuses' sort order): a response about an older state of the
   * order (an ORDRSP for a change arriving after the order shipped) leaves a later status as it is.
   */
  forwardOnly?: boolean;
  /** Problems found while reading the document, reported with the outcome. */
  warnings: string[];
  /**
   * The whole order as the ERP has it, for an order made outside the portal (by phone, by a manager in
   * the ERP): when no order of ours matches, it is created from this as an offline order.
   */
  offline?: OfflineOrderDraft;
  /** Documents of the order the ERP names (its payment, its shipment), kept once each by kind and number. */
  documents?: Array<{ kind: 'payment' | 'shipment' | string; number: string; date: Date | null; amount: string | null }>;
}

/** An order made in the ERP: buyer and products by the ERP's ids (or codes, INN), its number, date and sums. */
export interface OfflineOrderDraft {
  /** Whose external ids these are (the flow's `source.system`). */
  system: string;
  /** The ERP's number of the order (kept as the order's ERP number). */
  erpNumber: string;
  erpDate: Date | null;
  currency: string | null;
  /** The document's sum as the ERP computed it, exact decimal text. */
  total: string | null;
  comment: string | null;
  /** The buyer: its id in the system (a legal entity's or client's external id, or our code), INN and KPP. */
  buyer: { externalId: string | null; inn: string | null; kpp: string | null; name: string | null };
  /** The contact person's id in the system, if the document names one. */
  contactExternalId: string | null;
  lines: OfflineOrderLine[];
  /** Where the document is, for messages: `document 123 (line 4)`. */
  label: string;
}

export interface OfflineOrderLine {
  /** The product's id in the system (`guid` or `guid#characteristic`), else null. */
  externalId: string | null;
  article: string | null;
  name: string;
  quantity: string;
  price: string;
  amount: string;
  unit: string | null;
}

export interface ExternalChangesReport {
  documents: number;
  changed: number;
  unchanged: number;
  notFound: number;
  /** Orders unknown to the portal created as offline orders from the document. */
  created: number;
  warnings: string[];
}

