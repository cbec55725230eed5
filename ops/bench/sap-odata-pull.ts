// sap.odata pull benchmark (`npx tsx ops/bench/sap-odata-pull.ts -- --conditions N --page P`): an
// in-process HTTP server answers A_SlsPrcgConditionRecord pages in SAP Gateway's v2 JSON shape (each
// record with one validity period expanded, 10 % with 3 scales), generated on the fly for $top/$skip.
// Measured in one run: (1) the connector's pull (fetch, lossless JSON parse, shaping into records,
// NDJSON lines), (2) reading the payload back and mapping it with mappings/sap/odata-prices.yaml, and
// (3) the reference: the same pages fetched and JSON.parse'd only. The store is not involved (the
// pipeline's load path is measured by bench:ingest). The last line printed is one JSON object.
import http from 'node:http';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { sapODataConnector } from '../../connectors/sap/odata/index.ts';
import { compileMapping, loadMapping } from '../../src/mapping/index.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const N = arg('conditions', 200_000);
const PAGE = arg('page', 5000);
const DAY = 86_400_000;

function condition(i: number): unknown {
  const rec = String(i).padStart(10, '0');
  const mat = `M${String(i % 50_000).padStart(6, '0')}`;
  const scales = i % 10 === 0
    ? [['1', '1500.00'], ['100', '1450.00'], ['1000', '1390.50']].map(([q, p], n) => ({ __metadata: { type: 'API_SLSPRICINGCONDITIONRECORD_SRV.A_SlsPrcgCndnRecordScaleType' }, ConditionRecord: rec, ConditionSequentialNumber: '01', ConditionScaleLine: String(n + 1).padStart(4, '0'), ConditionScaleQuantity: q, ConditionScaleQuantityUnit: 'PC', ConditionRateValue: p, ConditionRateValueUnit: 'EUR' }))
    : [];
  return {
    __metadata: { id: `https://s4/A_SlsPrcgConditionRecord('${rec}')`, uri: `https://s4/A_SlsPrcgConditionRecord('${rec}')`, type: 'API_SLSPRICINGCONDITIONRECORD_SRV.A_SlsPrcgConditionRecordType' },
    ConditionRecord: rec, ConditionSequentialNumber: '01', ConditionTable: '304', ConditionApplication: 'V', ConditionType: 'PPR0',
    ConditionRateValue: `${1000 + (i % 9000)}.${String(i % 100).padStart(2, '0')}`, ConditionRateValueUnit: 'EUR', ConditionQuantity: '100', ConditionQuantityUnit: 'PC',
    ConditionIsDeleted: false, CreationDate: `/Date(${Date.UTC(2026, 0, 1)})/`,
    to_SlsPrcgCndnRecdValidity: { results: [{ __metadata: { type: 'API_SLSPRICINGCONDITIONRECORD_SRV.A_SlsPrcgCndnRecdValidityType' }, ConditionRecord: rec, ConditionValidityStartDate: `/Date(${Date.UTC(2026, 0, 1) + (i % 365) * DAY})/`, ConditionValidityEndDate: '/Date(253402214400000)/', ConditionType: 'PPR0', SalesOrganization: '1010', DistributionChannel: String(10 + (i % 100)), Material: mat }] },
    to_SlsPrcgCndnRecordScale: { results: scales },
  };
}

const server = http.createServer((req, res) => {
  const u = new URL(req.url!, 'http://x');
  const top = Number(u.searchParams.get('$top') ?? PAGE);
  const skip = Number(u.searchParams.get('$skip') ?? 0);
  const results = [];
  for (let i = skip; i < Math.min(N, skip + top); i++) results.push(condition(i));
  const d: Record<string, unknown> = { results };
  if (u.searchParams.get('$inlinecount') === 'allpages') d.__count = String(N);
  const body = JSON.stringify({ d });
  served += Buffer.byteLength(body);
  res.writeHead(200, { 'content-type': 'application/json' }).end(body);
});
let served = 0;
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sap/opu/odata/sap/API_SLSPRICINGCONDITIONRECORD_SRV`;
const options = {
  url, entitySet: 'A_SlsPrcgConditionRecord', expand: ['to_SlsPrcgCndnRecdValidity', 'to_SlsPrcgCndnRecordScale'], explode: 'to_SlsPrcgCndnRecdValidity',
  pairs: { Scales: { list: 'to_SlsPrcgCndnRecordScale', key: 'ConditionScaleQuantity', value: 'ConditionRateValue' } }, keyField: 'ConditionRecord', pageSize: PAGE,
};
const log = { debug() {}, info() {}, warn() {} };

// (3) reference first (warms the server's generator the same way for both).
let t = performance.now();
let refEntries = 0;
for (let skip = 0; skip < N; skip += PAGE) {
  const r = await fetch(`${url}/A_SlsPrcgConditionRecord?$format=json&$top=${PAGE}&$skip=${skip}`);
  refEntries += (JSON.parse(await r.text()) as { d: { results: unknown[] } }).d.results.length;
}
const refMs = performance.now() - t;

// (1) the connector's pull.
served = 0;
t = performance.now();
const handle = sapODataConnector.pull!({ flow: 'bench', options, cursor: undefined, env: {}, log: log as never });
// The payload is kept in memory here to be read back (the pipeline streams it to the inbox instead).
const chunks: string[] = [];
let next = await handle.body.next();
while (!next.done) {
  chunks.push(String(next.value));
  next = await handle.body.next();
}
const pullMs = performance.now() - t;
const records = next.value.records;
const payloadBytes = chunks.reduce((n, c) => n + Buffer.byteLength(c), 0);

// (2) read back and map.
const mapping = await compileMapping(await loadMapping('sap/odata-prices.yaml'), { system: 'sap' });
t = performance.now();
let mapped = 0;
let rejected = 0;
for await (const batch of sapODataConnector.parse(Readable.from(chunks), { fileName: 'A_SlsPrcgConditionRecord.ndjson', options })) {
  for (const r of batch) {
    if (mapping(r.data).ok) mapped++;
    else rejected++;
  }
}
const mapMs = performance.now() - t;
server.close();

const result = {
  conditions: N, pageSize: PAGE, servedMb: +(served / 1e6).toFixed(1), payloadMb: +(payloadBytes / 1e6).toFixed(1),
  pullEntriesPerSec: Math.round(N / (pullMs / 1000)), referencePerSec: Math.round(refEntries / (refMs / 1000)),
  ratioToReference: +((N / pullMs) / (refEntries / refMs)).toFixed(2),
  parseMapRecordsPerSec: Math.round(records / (mapMs / 1000)), mapped, rejected,
};
console.log(`pull ${(pullMs / 1000).toFixed(1)} s, reference ${(refMs / 1000).toFixed(1)} s, parse+map ${(mapMs / 1000).toFixed(1)} s`);
console.log(JSON.stringify(result));
