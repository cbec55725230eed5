// The onec.http connector: asks a 1C base, through an HTTP service published on the base
// (/hs/<name>), for documents 1C builds itself — the reconciliation act of a counterparty for a period
// (a flow with `target: reconciliationActs`). It receives no payloads: nothing runs through `parse`.
import type { Readable } from 'node:stream';
import { MagistralError, type Connector, type ParseContext, type SourceRecord } from '../../../src/port/index.ts';
import { ONEC_HTTP_OPTIONS_SCHEMA } from './options.ts';
import { requestAct } from './act.ts';

// The Connector interface demands a parse: an act flow never has runs (receive refuses it), so a payload
// that reaches here came through a tool that skipped the flow (dry-run): say so plainly.
async function* parse(_input: Readable, _ctx: ParseContext): AsyncIterable<SourceRecord[]> {
  throw new MagistralError('MAG_ERR_BAD_REQUEST', 'onec.http receives no payloads: it asks 1C for documents (target: reconciliationActs)');
}

export const onecHttpConnector: Connector = {
  kind: 'onec.http',
  optionsSchema: ONEC_HTTP_OPTIONS_SCHEMA,
  parse,
  documents: { requestAct },
};

export { actUrl, looksLikePdf } from './act.ts';
