// What the receiving process's heap costs an upload (`tsx ops/bench/upload-heap.ts [--reps N]`): the same
// 7 POSTs of 64 MiB (a 1M-price 1C file's size) received the way the 1C exchange receives them (sha256,
// gathered writes of 4 MiB, a datasync after each POST) by a bare process, then by one that has loaded the
// API's modules first (src/api/index.ts, as `magistral start --api-only` has), with the heap cap alone and
// with bin/magistral.js's flags (its initial old space). The client runs in a child
// process; the CPU printed is the receiving process's, with V8's collections counted by a PerformanceObserver.
// Each mode runs in a process of its own (this script runs itself with `--mode`). The last line is JSON.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { BIN_NODE_FLAGS } from './lib.ts';

const POSTS = 7;
const POST_BYTES = 64 << 20;

interface Probe { mode: string; heapMB: number; seconds: number; cpuSeconds: number; gcMs: number; majorGcs: number }

async function probe(mode: string): Promise<Probe> {
  if (mode !== 'bare') await import('../../src/api/index.ts');
  let gcMs = 0;
  let majorGcs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorGcs++;
    }
  }).observe({ entryTypes: ['gc'] });
  const out = `/tmp/upload-heap-${process.pid}.bin`;
  const server = http.createServer((req, res) => {
    void (async () => {
      const fh = await open(out, 'a');
      const hash = createHash('sha256');
      let pending: Buffer[] = [];
      let n = 0;
      for await (const c of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        hash.update(c);
        pending.push(c);
        n += c.length;
        if (n >= 4 << 20 || pending.length >= 512) {
          await fh.writev(pending);
          pending = [];
          n = 0;
        }
      }
      if (pending.length) await fh.writev(pending);
      void fh.datasync().finally(() => fh.close());
      res.end(`success\n${hash.digest('hex')}`);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  (globalThis as { gc?: () => void }).gc?.();
  const heapMB = process.memoryUsage().heapUsed / 1e6;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const client = spawn(process.execPath, ['-e', `
    const http = require('http'); const body = Buffer.alloc(${POST_BYTES}, 120); let i = 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    (function next() {
      if (i++ >= ${POSTS}) process.exit(0);
      const q = http.request({ host: '127.0.0.1', port: ${port}, method: 'POST', path: '/', agent, headers: { 'content-length': body.length } }, (res) => { res.resume(); res.on('end', next); });
      for (let o = 0; o < body.length; o += 1 << 20) q.write(body.subarray(o, o + (1 << 20)));
      q.end();
    })();`], { stdio: 'inherit' });
  const code = await new Promise((r) => client.on('exit', r));
  if (code !== 0) throw new Error(`the client exited with ${String(code)}`);
  const u = process.cpuUsage(c0);
  server.close();
  rmSync(out, { force: true });
  return { mode, heapMB, seconds: (performance.now() - t0) / 1000, cpuSeconds: (u.user + u.system) / 1e6, gcMs, majorGcs };
}

const args = process.argv.slice(2);
const modeAt = args.indexOf('--mode');
if (modeAt >= 0) {
  const r = await probe(args[modeAt + 1] ?? 'bare');
  console.log(JSON.stringify(r));
  process.exit(0);
}
const reps = Number(args[args.indexOf('--reps') + 1]) || 2;
const self = fileURLToPath(import.meta.url);
const runs: Probe[] = [];
for (let i = 0; i < reps; i++) {
  for (const mode of ['bare', 'api', 'api-bin']) {
    const flags = mode === 'api-bin' ? BIN_NODE_FLAGS : ['--max-old-space-size=160'];
    const p = spawn(process.execPath, ['--expose-gc', ...flags, '--import', 'tsx', self, '--mode', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d: Buffer) => { text += d.toString(); });
    await new Promise((r) => p.on('exit', r));
    const r = JSON.parse(text.trim().split('\n').at(-1)!) as Probe;
    runs.push(r);
    console.log(`${mode.padEnd(7)} heap ${r.heapMB.toFixed(1)} MB: ${r.seconds.toFixed(2)} s, CPU ${r.cpuSeconds.toFixed(2)} s, GC ${r.gcMs.toFixed(0)} ms in pauses, ${r.majorGcs} major collections`);
  }
}
const of = (mode: string, k: keyof Probe) => runs.filter((r) => r.mode === mode).map((r) => Math.round(Number(r[k]) * 100) / 100);
console.log(JSON.stringify({
  bytes: POSTS * POST_BYTES, bareCpuSeconds: of('bare', 'cpuSeconds'), apiCpuSeconds: of('api', 'cpuSeconds'), apiBinCpuSeconds: of('api-bin', 'cpuSeconds'),
  bareMajorGcs: of('bare', 'majorGcs'), apiMajorGcs: of('api', 'majorGcs'), apiBinMajorGcs: of('api-bin', 'majorGcs'), bareHeapMB: of('bare', 'heapMB'), apiHeapMB: of('api', 'heapMB'),
}));
