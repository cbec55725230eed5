// CommerceML (1C "exchange with site"): the reader of catalog, offers and order files (on the XML
// tokenizer of connectors/lib), typed order documents, and the onec.commerceml connector.
export { commercemlConnector, COMMERCEML_OPTIONS_SCHEMA } from './connector.ts';
export { readCommerceML, readOrderDocuments, CommerceMLReader, RECORD_KINDS, COUNT_KEYS, emptyCounts, type ElementCounts, type ReaderOptions, type RecordKind } from './reader.ts';
export type { OrderDocument, OrderLine, OrderCounterparty, OrderAddress, OrderContact, OrderDiscount, OrderTax, OrderUnit, Requisite } from './order-document.ts';
