// The IDoc message types the SAP connector reads (inbound) and the record kinds each yields. A flow of
// kind `sap.idoc` names the message types it accepts (`source.options.messageTypes`); its mappings are
// named after the record kinds (mapping `name: cond_a` maps the records of kind `cond_a`).

export interface IdocMessageType {
  /** EDI_DC40/MESTYP. */
  mestyp: string;
  /** EDI_DC40/IDOCTYP accepted for it (extensions in CIMTYP are read as their basic type). */
  basicTypes: readonly string[];
  /** Record kinds the reader yields for it (one mapping each). Empty: not a run (order responses). */
  kinds: readonly string[];
  description: string;
}

export const INBOUND_MESSAGE_TYPES: readonly IdocMessageType[] = [
  { mestyp: 'COND_A', basicTypes: ['COND_A03', 'COND_A04', 'COND_A05'], kinds: ['cond_a'], description: 'condition records (prices with scales and validity)' },
  { mestyp: 'MATMAS', basicTypes: ['MATMAS05'], kinds: ['matmas', 'matmas.units'], description: 'material master (products, alternative units)' },
  { mestyp: 'DEBMAS', basicTypes: ['DEBMAS07'], kinds: ['debmas', 'debmas.legal', 'debmas.contacts'], description: 'customer master (clients, legal entities, contacts)' },
  // LOISTD01 is SAP's stock/requirements list IDoc of the optimisation interface (POI), not IS-Retail's:
  // per SAP's documentation one IDoc is one material-plant list whose E1MDSTL holds MATNR, WERKS and the
  // stock quantities (LABST unrestricted, INSME, SPEME, TRAME …); storage locations appear only in the
  // planning segments (E1PLSEL), so its stock is per plant.
  { mestyp: 'LOISTD', basicTypes: ['LOISTD01'], kinds: ['stock'], description: 'stock per plant (E1MDSTL)' },
  { mestyp: 'ORDRSP', basicTypes: ['ORDERS05'], kinds: [], description: 'order responses (SAP order number and status onto portal orders)' },
];

export function messageType(mestyp: string): IdocMessageType | undefined {
  return INBOUND_MESSAGE_TYPES.find((t) => t.mestyp === mestyp);
}
