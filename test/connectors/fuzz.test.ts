// Property-based fuzz of the payload readers (issue 17): the CSV reader, the CommerceML reader and the
// IDoc-XML reader are fed real payloads damaged at random — truncated anywhere, bytes flipped, a foreign
// encoding spliced in, deep nesting, a huge attribute, control bytes — and must either read them or refuse
// them with a PayloadError (or another MagistralError) whose message names the file and a line (and column
// for XML). Never another exception (a TypeError is a bug in the reader), never a hang (each case has a time
// budget through fast-check's timeout). fast-check shrinks a failing case to a small one and prints its seed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { csvConnector } from '../../connectors/file/csv.ts';
import { commercemlConnector } from '../../connectors/onec/commerceml/connector.ts';
import { idocConnector } from '../../connectors/sap/idoc/connector.ts';
import { isMagistralError } from '../../src/errors/index.ts';
import type { Connector } from '../../src/port/index.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { ONEC_SAMPLES } from '../helpers/samples.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

interface Target {
  name: string;
  connector: Connector;
  fileName: string;
  options: Record<string, unknown>;
  samples: Buffer[];
  /** A position in an error message: `file:line` (CSV), `file:line:column` (XML). */
  position: RegExp;
  xml: boolean;
}

const TARGETS: Target[] = [
  {
    name: 'CSV', connector: csvConnector, fileName: 'fuzz.csv', options: {}, xml: false,
    samples: ['prices.csv', 'products.csv', 'contacts.csv'].map((f) => readFileSync(path.join(REPO_DIR, 'ops/demo', f))),
    position: /fuzz\.csv(:\d+| line \d+)/,
  },
  {
    name: 'CommerceML', connector: commercemlConnector, fileName: 'fuzz.xml', options: {}, xml: true,
    samples: ['02_offers0_1_cml207_warehouse-attrs.xml', '05_offers_cml208_3-price-types.xml', '06_order_from_site_cml203_cp1251.xml']
      .map((f) => readFileSync(path.join(ONEC_SAMPLES, f))),
    position: /fuzz\.xml:\d+(:\d+)?/,
  },
  {
    name: 'IDoc', connector: idocConnector, fileName: 'fuzz.xml', options: {}, xml: true,
    samples: ['cond_a05.xml', 'matmas05.xml', 'debmas07.xml'].map((f) => readFileSync(path.join(REPO_DIR, 'test/fixtures/sap', f))),
    position: /fuzz\.xml:\d+(:\d+)?/,
  },
];

/** Reads a payload through a connector in chunks of `chunk` bytes (a socket's reads split anywhere). */
async function read(t: Target, bytes: Buffer, chunk: number): Promise<{ records: number } | { error: unknown }> {
  // At most 4,096 reads per payload: a 4 MB attribute in 1-byte reads would time the stream, not the reader.
  const size = Math.max(chunk, Math.ceil(bytes.length / 4096));
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  try {
    let records = 0;
    for await (const batch of t.connector.parse(Readable.from(parts), { fileName: t.fileName, options: t.options })) records += batch.length;
    return { records };
  } catch (error) {
    return { error };
  }
}

/** The reader's answer is a count of records or an error of ours that names the file and a position. */
function acceptable(t: Target, r: { records: number } | { error: unknown }): true | string {
  if ('records' in r) return true;
  const e = r.error;
  if (!isMagistralError(e)) return `not a MagistralError: ${(e as Error)?.stack ?? String(e)}`;
  if (!t.position.test(e.message)) return `no position in: ${e.message}`;
  return true;
}

/** Ways to damage a payload. */
function damage(t: Target): fc.Arbitrary<{ label: string; apply: (b: Buffer) => Buffer }> {
  const at = fc.double({ min: 0, max: 1, noNaN: true });
  const arbs: Array<fc.Arbitrary<{ label: string; apply: (b: Buffer) => Buffer }>> = [
    at.map((p) => ({ label: `truncate@${p.toFixed(4)}`, apply: (b: Buffer) => b.subarray(0, Math.floor(b.length * p)) })),
    fc.array(fc.tuple(at, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 20 }).map((flips) => ({
      label: `flip×${flips.length}`,
      apply: (b: Buffer) => {
        const c = Buffer.from(b);
        for (const [p, v] of flips) c[Math.min(c.length - 1, Math.floor(c.length * p))] = v;
        return c;
      },
    })),
    fc.tuple(at, fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' })).map(([p, s]) => ({
      label: 'cp1251 splice',
      apply: (b: Buffer) => {
        const i = Math.floor(b.length * p);
        return Buffer.concat([b.subarray(0, i), iconv.encode(`${s}Привет`, 'win1251'), b.subarray(i)]);
      },
    })),
    fc.tuple(at, fc.integer({ min: 0, max: 31 }), fc.integer({ min: 1, max: 50 })).map(([p, ch, n]) => ({
      label: `control 0x${ch.toString(16)}×${n}`,
      apply: (b: Buffer) => {
        const i = Math.floor(b.length * p);
        return Buffer.concat([b.subarray(0, i), Buffer.alloc(n, ch), b.subarray(i)]);
      },
    })),
  ];
  if (t.xml) {
    arbs.push(
      fc.tuple(at, fc.integer({ min: 100, max: 20_000 })).map(([p, depth]) => ({
        label: `nesting ${depth}`,
        apply: (b: Buffer) => {
          const s = b.toString('latin1');
          // After the first element's opening tag ends.
          const i = s.indexOf('>', s.indexOf('<', Math.floor(s.length * p * 0.5)) + 1) + 1;
          return Buffer.concat([b.subarray(0, i), Buffer.from('<a>'.repeat(depth) + '</a>'.repeat(depth)), b.subarray(i)]);
        },
      })),
      fc.integer({ min: 1, max: 4 }).map((mb) => ({
        label: `attribute ${mb} MB`,
        apply: (b: Buffer) => {
          const s = b.toString('latin1');
          const open = s.indexOf('<', s.indexOf('?>') + 2);
          const end = s.indexOf('>', open);
          return Buffer.concat([b.subarray(0, end), Buffer.from(` huge="${'x'.repeat(mb << 20)}"`), b.subarray(end)]);
        },
      })),
    );
  } else {
    arbs.push(fc.integer({ min: 1, max: 4 }).map((mb) => ({
      label: `field ${mb} MB`,
      apply: (b: Buffer) => {
        const nl = b.indexOf(0x0a) + 1;
        return Buffer.concat([b.subarray(0, nl), Buffer.from(`"${'x'.repeat(mb << 20)}`), b.subarray(nl)]);
      },
    })));
  }
  return fc.oneof(...arbs);
}

describe.each(TARGETS)('$name reader under random damage', (t) => {
  it('reads every undamaged sample', async () => {
    for (const s of t.samples) expect(acceptable(t, await read(t, s, 65536))).toBe(true);
  });

  it('answers any damage with records or a positioned error of its own, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: t.samples.length - 1 }), damage(t), fc.integer({ min: 1, max: 70_000 }), async (which, d, chunk) => {
        const r = await read(t, d.apply(t.samples[which]!), chunk);
        const ok = acceptable(t, r);
        if (ok !== true) throw new Error(`${d.label}, chunks of ${chunk}: ${ok}`);
      }),
      { numRuns: RUNS, timeout: 20_000 },
    );
  }, 240_000);
});
