// The connector port: the only module of the core that code under connectors/ may import (an ESLint
// rule enforces it). It carries the connector interface, the errors a connector raises, and the port
// object the core hands each connector at start (receive payloads, snapshot groups, flows, own tables).
export type {
  Connector, ParseContext, SourceRecord, PullContext, PullHandle, PullResult, ExchangeEndpoint, ExchangeDeps,
} from '../pipeline/connector.ts';
export { PullError } from '../pipeline/connector.ts';
export type { DryRunCounting } from '../pipeline/dry-run.ts';
export { MagistralError, PayloadError, isMagistralError, formatPosition, type ErrorCode, type PayloadPosition } from '../errors/index.ts';
export type { Logger } from '../telemetry/logger.ts';
