// CommerceML (1C "exchange with site"): the streaming XML scanner, the reader of catalog, offers and
// order files, typed order documents, and the onec.commerceml connector.
export { commercemlConnector, COMMERCEML_OPTIONS_SCHEMA } from './connector.ts';
export { readCommerceML, readOrderDocuments, CommerceMLReader, RECORD_KINDS, COUNT_KEYS, emptyCounts, type ElementCounts, type ReaderOptions, type RecordKind } from './reader.ts';
export type { OrderDocument, OrderLine, OrderCounterparty, OrderAddress, OrderContact, OrderDiscount, OrderTax, OrderUnit, Requisite } from './order-document.ts';
export { XmlScanner, decode1251, type ScanHandler, type XmlEncoding, type XmlScannerOptions } from './xml-scanner.ts';
