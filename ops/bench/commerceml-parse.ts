// Parse-only throughput of the CommerceML reader on a generated offers file (MB/s, records/s), next to
// a plain saxes handler that only counts elements, as the reference for what an XML parse costs here.
//
// Usage: tsx ops/bench/commerceml-parse.ts [--prices N] [--runs N] [--reader MODULE] [--no-saxes]
// --reader runs another copy of the reader (e.g. the previous version kept outside the repo) so two
// versions can be timed side by side in one session on the same file.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SaxesParser } from 'saxes';
import type { Readable } from 'node:stream';
import { generateOffersFile } from '../../test/fixtures/onec/generate-offers.ts';

type ReadFn = (input: Readable, o: { fileName: string }) => AsyncGenerator<unknown[], unknown>;

const { values } = parseArgs({
  options: {
    prices: { type: 'string', default: '500000' },
    runs: { type: 'string', default: '3' },
    reader: { type: 'string' },
    'no-saxes': { type: 'boolean', default: false },
  },
});
const prices = Number(values.prices);
const runs = Number(values.runs);
const PRICE_TYPES = 5;

async function fileFor(n: number): Promise<string> {
  const file = path.join(tmpdir(), `magistral-bench-offers-${n}.xml`);
  if (!existsSync(file)) {
    process.stderr.write(`generating ${file} …\n`);
    await generateOffersFile(file, { offers: Math.ceil(n / PRICE_TYPES), priceTypes: PRICE_TYPES, warehouses: 3 });
  }
  return file;
}

const open = (file: string): Readable => createReadStream(file, { highWaterMark: 1 << 20 });

async function timeReader(read: ReadFn, file: string): Promise<{ ms: number; records: number }> {
  const t = performance.now();
  let records = 0;
  for await (const batch of read(open(file), { fileName: path.basename(file) })) records += batch.length;
  return { ms: performance.now() - t, records };
}

async function timeSaxes(file: string): Promise<{ ms: number; records: number }> {
  const t = performance.now();
  let elements = 0;
  const p = new SaxesParser({ xmlns: false });
  p.on('opentag', () => { elements++; });
  // The stream decodes UTF-8 itself so that a character split across chunks stays whole.
  for await (const chunk of open(file).setEncoding('utf8')) p.write(chunk as string);
  p.close();
  return { ms: performance.now() - t, records: elements };
}

function report(label: string, bytes: number, r: Array<{ ms: number; records: number }>, unit: string): void {
  const mbs = r.map((x) => bytes / 1e6 / (x.ms / 1000));
  const rps = r.map((x) => x.records / (x.ms / 1000));
  const fmt = (a: number[], d: number): string => `${a.map((v) => v.toFixed(d)).join(' / ')} (median ${[...a].sort((x, y) => x - y)[a.length >> 1]!.toFixed(d)}, spread ${((Math.max(...a) / Math.min(...a) - 1) * 100).toFixed(1)}%)`;
  console.log(`${label.padEnd(8)} MB/s ${fmt(mbs, 1)}`);
  console.log(`${''.padEnd(8)} ${unit}/s ${fmt(rps.map((v) => v / 1000), 0)} k  [${r[0]!.records} ${unit}]`);
}

const file = await fileFor(prices);
const bytes = statSync(file).size;
const modulePath = values.reader ? path.resolve(values.reader) : path.resolve('connectors/onec/commerceml/index.ts');
const { readCommerceML } = (await import(pathToFileURL(modulePath).href)) as { readCommerceML: ReadFn };
console.log(`file ${file}: ${(bytes / 1e6).toFixed(1)} MB; reader ${modulePath}`);
// One warm-up parse so the JIT has seen the hot paths before the timed runs.
await timeReader(readCommerceML, file);
const reader: Array<{ ms: number; records: number }> = [];
const saxes: Array<{ ms: number; records: number }> = [];
for (let i = 0; i < runs; i++) {
  reader.push(await timeReader(readCommerceML, file));
  if (!values['no-saxes']) saxes.push(await timeSaxes(file));
}
report('reader', bytes, reader, 'records');
if (saxes.length) report('saxes', bytes, saxes, 'elements');
