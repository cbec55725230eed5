// What the SAP IDoc endpoint's scan costs (envelope.ts: well-formedness + every IDoc's control record,
// fed the body in 64 KiB pieces as a socket delivers it), next to a plain saxes handler that only counts
// E1KONP on the same bytes (the reference the benchmark uses). Also the heap the scan keeps for a
// message of many IDocs. Not the end-to-end benchmark (`bench:sap`, the whole pipeline): the endpoint only.
//
// Usage: tsx ops/bench/sap-endpoint-scan.ts [--idocs N] [--runs N]
import { parseArgs } from 'node:util';
import { SaxesParser } from 'saxes';
import { EnvelopeScanner } from '../../connectors/sap/idoc/envelope.ts';

const { values } = parseArgs({ options: { idocs: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' } } });
const N = Number(values.idocs);
const RUNS = Number(values.runs);

/** One COND_A05 message of N IDocs, one condition each, every 10th with 3 scales (the load shape). */
function message(n: number): Buffer {
  const parts: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n<COND_A05>\n'];
  for (let i = 0; i < n; i++) {
    const docnum = String(4_000_000_000 + i).padStart(16, '0');
    const scales = i % 10 === 0 ? [10, 50, 100].map((q, k) => `<E1KONM SEGMENT="1"><KSTBM>${q}.000</KSTBM><KBETR>${(1000 - k * 10)}.00</KBETR></E1KONM>`).join('') : '';
    parts.push(`<IDOC BEGIN="1"><EDI_DC40 SEGMENT="1"><TABNAM>EDI_DC40</TABNAM><MANDT>100</MANDT><DOCNUM>${docnum}</DOCNUM><DOCREL>758</DOCREL><STATUS>30</STATUS>`
      + `<DIRECT>1</DIRECT><OUTMOD>2</OUTMOD><IDOCTYP>COND_A05</IDOCTYP><MESTYP>COND_A</MESTYP><SNDPOR>SAPS4H</SNDPOR><SNDPRT>LS</SNDPRT><SNDPRN>S4HCLNT100</SNDPRN>`
      + `<RCVPOR>MAGISTRAL</RCVPOR><RCVPRT>LS</RCVPRT><RCVPRN>MAGISTRAL</RCVPRN><CREDAT>20261201</CREDAT><CRETIM>101500</CRETIM></EDI_DC40>\n`
      + `<E1KOMG SEGMENT="1"><KVEWE>A</KVEWE><KAPPL>V</KAPPL><KSCHL>PR00</KSCHL><VAKEY>100010 MAT-${i % 50000}</VAKEY><VKORG>1000</VKORG><VTWEG>10</VTWEG><MATNR>MAT-${i % 50000}</MATNR>`
      + `<E1KONH SEGMENT="1"><KNUMH>${String(i).padStart(10, '0')}</KNUMH><DATAB>20261201</DATAB><DATBI>99991231</DATBI>`
      + `<E1KONP SEGMENT="1"><KSCHL>PR00</KSCHL><KBETR>${(i % 100000) / 100}</KBETR><KONWA>RUB</KONWA><KPEIN>1</KPEIN><KMEIN>PCE</KMEIN><LOEVM_KO></LOEVM_KO>${scales}</E1KONP>`
      + `</E1KONH></E1KOMG></IDOC>\n`);
  }
  parts.push('</COND_A05>\n');
  return Buffer.from(parts.join(''));
}

const CHUNK = 64 * 1024;
function timed(f: () => number): { ms: number; cpuMs: number; count: number } {
  const t = performance.now();
  const c = process.cpuUsage();
  const count = f();
  const cpu = process.cpuUsage(c);
  return { ms: performance.now() - t, cpuMs: (cpu.user + cpu.system) / 1000, count };
}

const body = message(N);
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
