// What the SAP IDoc endpoint's scan costs (envelope.ts: well-formedness + every IDoc's control record,
// fed the body in 64 KiB pieces as a socket delivers it), next to a plain saxes handler that only counts
// E1KONP on the same bytes (the reference the benchmark uses). Also the heap the scan keeps for a
// message of many IDocs. Not the end-to-end benchmark (`bench:sap`, the whole pipeline): the endpoint only.
//
// Usage: tsx ops/bench/sap-endpoint-scan.ts [--idocs N] [--runs N]
import { parseArgs } from 'node:util';
import { SaxesParser } from 'saxes';
import { EnvelopeScanner } from '../../connectors/sap/idoc/envelope.ts';
import { condAMessage } from './sap-idoc-message.ts';

const { values } = parseArgs({ options: { idocs: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' } } });
const N = Number(values.idocs);
const RUNS = Number(values.runs);

const CHUNK = 64 * 1024;
function timed(f: () => number): { ms: number; cpuMs: number; count: number } {
  const t = performance.now();
  const c = process.cpuUsage();
  const count = f();
  const cpu = process.cpuUsage(c);
  return { ms: performance.now() - t, cpuMs: (cpu.user + cpu.system) / 1000, count };
}

const body = condAMessage(N);
const mb = body.length / 1048576;
const scan = (): number => {
  const s = new EnvelopeScanner('bench.xml');
  for (let at = 0; at < body.length; at += CHUNK) s.write(body.subarray(at, at + CHUNK));
  const r = s.end();
  if (r.error || r.problem) throw new Error(r.error?.message ?? r.problem);
  return r.idocCount;
};
const saxes = (): number => {
  let n = 0;
  const p = new SaxesParser();
  p.on('opentag', (t) => { if (t.name === 'E1KONP') n++; });
  for (let at = 0; at < body.length; at += CHUNK) p.write(body.subarray(at, at + CHUNK).toString('utf8'));
  p.close();
  return n;
};
const best = (f: () => number) => Array.from({ length: RUNS }, () => timed(f)).sort((a, b) => a.cpuMs - b.cpuMs)[0]!;
globalThis.gc?.();
const heap0 = process.memoryUsage().heapUsed;
let kept: unknown;
{
  const s = new EnvelopeScanner('bench.xml');
  for (let at = 0; at < body.length; at += CHUNK) s.write(body.subarray(at, at + CHUNK));
  kept = s.end();
}
globalThis.gc?.();
const heapKeptMb = (process.memoryUsage().heapUsed - heap0) / 1048576;
void kept;
const a = best(scan);
const b = best(saxes);
const out = {
  idocs: N, messageMb: Number(mb.toFixed(1)),
  scanMbPerSec: Number((mb / (a.cpuMs / 1000)).toFixed(1)), scanIdocsPerSec: Math.round(N / (a.cpuMs / 1000)),
  saxesMbPerSec: Number((mb / (b.cpuMs / 1000)).toFixed(1)), ratioToSaxes: Number((b.cpuMs / a.cpuMs).toFixed(2)),
  scanHeapKeptMb: Number(heapKeptMb.toFixed(1)), wallMsScan: Math.round(a.ms), wallMsSaxes: Math.round(b.ms),
};
console.log(JSON.stringify(out));
