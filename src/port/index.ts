// The connector port: the only module of the core that code under connectors/ may import (an ESLint
// rule enforces it; type-only imports of the generated canonical types aside). Its face: the connector
// interface, the port object the core hands each connector, and the errors a connector raises.
export type {
  Connector, ParseContext, SourceRecord, RawLine, LineSkip, RecordTake, PayloadFileStore, PullContext, PullHandle, PullResult, DryRunCounting, OutboundCapability, OutboundContext, SendContext,
  SendResult, SentOrder, DocumentRequestCapability, ActRequest, ActAnswer, DocumentRequestContext,
} from './connector.ts';
export type { ExchangeEndpoint, ConnectorModule } from './module.ts';
export type {
  ConnectorPort, LoginGuard, PayloadFile, ReceiveRequest, Receipt, ReceiptTransaction, RunStatus, SnapshotGroups, OrdersPort, OutboundOrder, OutboundOrderLine,
  OrderVersion, ExternalOrderChange, ExternalChangesReport, OfflineOrderDraft, OfflineOrderLine,
} from './port.ts';
export { PullError, RetryableError, HoldRunError } from '../errors/index.ts';
export { MagistralError, PayloadError, isMagistralError, formatPosition, type ErrorCode, type PayloadPosition } from '../errors/index.ts';
export type { Logger } from '../telemetry/logger.ts';
export type { TickOutage } from '../telemetry/tick-outage.ts';
export type { StoredFlow, Flow } from '../pipeline/flows.ts';
export type { OrderChange, OrderStatus } from '../orders/index.ts';
