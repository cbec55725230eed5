// Parse-only throughput of the CommerceML reader on a generated offers file (MB/s, records/s), next to
// a plain saxes handler that only counts elements, as the reference for what an XML parse costs here.
//
// Usage: tsx ops/bench/commerceml-parse.ts [--prices N] [--runs N] [--reader MODULE] [--against MODULE] [--no-saxes]
// --reader runs another copy of the reader (e.g. the previous version kept outside the repo); --against
// alternates runs of a second copy in the same process, so two versions meet the same machine load.
// Figures are given on wall time and on CPU time (user + system of this process): on a shared machine
// the CPU figure is the steadier one.
import { createReadStream, existsSync, statSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SaxesParser } from 'saxes';
import type { Readable } from 'node:stream';
import { generateOffersFile } from '../../test/fixtures/onec/generate-offers.ts';

type ReadFn = (input: Readable, o: { fileName: string }) => AsyncGenerator<unknown[], unknown>;
interface Run { ms: number; cpuMs: number; records: number }

/** Wall and CPU time of one parse. */
async function timed(parse: () => Promise<number>): Promise<Run> {
  const t = performance.now();
  const c = process.cpuUsage();
  const records = await parse();
  const cpu = process.cpuUsage(c);
  return { ms: performance.now() - t, cpuMs: (cpu.user + cpu.system) / 1000, records };
}

const { values } = parseArgs({
  options: {
    prices: { type: 'string', default: '500000' },
    runs: { type: 'string', default: '3' },
    reader: { type: 'string' },
    against: { type: 'string' },
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

function timeReader(read: ReadFn, file: string): Promise<Run> {
  return timed(async () => {
    let records = 0;
    for await (const batch of read(open(file), { fileName: path.basename(file) })) records += batch.length;
    return records;
  });
}

function timeSaxes(file: string): Promise<Run> {
  return timed(async () => {
    let elements = 0;
    const p = new SaxesParser({ xmlns: false });
    p.on('opentag', () => { elements++; });
    // The stream decodes UTF-8 itself so that a character split across chunks stays whole.
    for await (const chunk of open(file).setEncoding('utf8')) p.write(chunk as string);
    p.close();
    return elements;
  });
}

function report(label: string, bytes: number, r: Run[], unit: string): void {
  const fmt = (a: number[], d: number): string => `${a.map((v) => v.toFixed(d)).join(' / ')} (median ${[...a].sort((x, y) => x - y)[a.length >> 1]!.toFixed(d)}, spread ${((Math.max(...a) / Math.min(...a) - 1) * 100).toFixed(1)}%)`;
  for (const [clock, ms] of [['wall', (x: Run) => x.ms], ['cpu', (x: Run) => x.cpuMs]] as const) {
    console.log(`${label.padEnd(8)} ${clock.padEnd(4)} MB/s ${fmt(r.map((x) => bytes / 1e6 / (ms(x) / 1000)), 1)}`);
    console.log(`${''.padEnd(13)} k${unit}/s ${fmt(r.map((x) => x.records / ms(x)), 0)}  [${r[0]!.records} ${unit}]`);
  }
}

const load = async (m: string): Promise<ReadFn> => ((await import(pathToFileURL(path.resolve(m)).href)) as { readCommerceML: ReadFn }).readCommerceML;

const file = await fileFor(prices);
const bytes = statSync(file).size;
const modulePath = values.reader ?? 'connectors/onec/commerceml/index.ts';
const readCommerceML = await load(modulePath);
const other = values.against ? await load(values.against) : undefined;
console.log(`file ${file}: ${(bytes / 1e6).toFixed(1)} MB; reader ${modulePath}${other ? `, against ${values.against}` : ''}; load ${os.loadavg()[0]!.toFixed(1)}`);
// One warm-up parse each so the JIT has seen the hot paths before the timed runs.
await timeReader(readCommerceML, file);
if (other) await timeReader(other, file);
const reader: Run[] = [];
const against: Run[] = [];
const saxes: Run[] = [];
for (let i = 0; i < runs; i++) {
  reader.push(await timeReader(readCommerceML, file));
  if (other) against.push(await timeReader(other, file));
  if (!values['no-saxes']) saxes.push(await timeSaxes(file));
}
report('reader', bytes, reader, 'records');
if (other) report('against', bytes, against, 'records');
if (saxes.length) report('saxes', bytes, saxes, 'elements');
console.log(`load at the end ${os.loadavg()[0]!.toFixed(1)}`);
