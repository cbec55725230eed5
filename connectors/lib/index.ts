// The connector kit: format-independent parsing parts that connectors build their readers from (the
// streaming XML tokenizer, encoding detection, value decoding, UTF-8 validation, record batching).
export { XmlScanner, type ScanHandler, type XmlScannerOptions } from './xml/scanner.ts';
export { byteOrderMark, detectXmlEncoding, encodingFromLabel, DECLARATION_LIMIT, type DetectedEncoding, type XmlEncoding } from './xml/encoding.ts';
export { decode1251, decodeBytes, decodeValue, resolveReferences, ShortValueCache, CP1251_INVALID } from './xml/values.ts';
export { completeUtf8Length, firstInvalidUtf8, hexBytes } from './utf8.ts';
export { RecordBatcher } from './record-batcher.ts';
export { parseNdjson, BATCH_SIZE as NDJSON_BATCH_SIZE } from './ndjson.ts';
export { parseLossless, plainNumber } from './json-lossless.ts';
export { sameSecret } from './secrets.ts';
export { sleep } from './sleep.ts';
export { ENV_NAME, ENV_NAME_PATTERN } from './options.ts';
export { readZip, safeEntryName, printableEntry, ZipRefused, type ZipLimits, type ZipRefusal, type ZipContents, type ZipSkip } from './zip.ts';
export { documentType, otherKind, pdfProblem, type DocumentType, type OtherKind } from './sniff.ts';
