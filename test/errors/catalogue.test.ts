// The error catalogue stays whole and honest: every MAG_ERR_* code the code uses is listed, every
// listed code is used, and the table in src/api/README.md is the catalogue's own rendering.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOGUE, catalogueMarkdown, HoldRunError, MagistralError, PullError, RetryableError } from '../../src/errors/index.ts';
import { PullError as PullErrorFromConnector } from '../../src/port/index.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';

const SCANNED = ['src', 'connectors', 'workers', 'bin'];
const CATALOGUE_FILE = path.join('src', 'errors', 'catalogue.ts');
const README = path.join(REPO_DIR, 'src/api/README.md');
const BEGIN = '<!-- errors:begin (generated from src/errors/catalogue.ts by test/errors/catalogue.test.ts) -->';
const END = '<!-- errors:end -->';

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...await tsFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Code → files using it, over every .ts file of the scanned folders except the catalogue itself. */
async function usedCodes(): Promise<Map<string, string[]>> {
  const used = new Map<string, string[]>();
  for (const dir of SCANNED) {
    for (const file of await tsFiles(path.join(REPO_DIR, dir))) {
      const rel = path.relative(REPO_DIR, file);
      if (rel === CATALOGUE_FILE) continue;
      for (const m of (await readFile(file, 'utf8')).matchAll(/MAG_ERR_[A-Z0-9_]+/g)) {
        used.set(m[0], [...(used.get(m[0]) ?? []), rel]);
      }
    }
  }
  return used;
}

describe('error catalogue', () => {
  it('lists every MAG_ERR_* code used under src/, connectors/, workers/ and bin/', async () => {
    const used = await usedCodes();
    const missing = [...used].filter(([code]) => !(code in CATALOGUE)).map(([code, files]) => `${code} (${[...new Set(files)].join(', ')})`);
    expect(missing, 'codes used but not in src/errors/catalogue.ts').toEqual([]);
  });

  it('lists no code that nothing uses', async () => {
    const used = await usedCodes();
    expect(Object.keys(CATALOGUE).filter((code) => !used.has(code)), 'codes in the catalogue that no code uses').toEqual([]);
  });

  it('gives each code an HTTP status and a sentence', () => {
    for (const [code, e] of Object.entries(CATALOGUE)) {
      expect(e.status, code).toBeGreaterThanOrEqual(400);
      expect(e.status, code).toBeLessThan(600);
      expect(e.meaning, code).toMatch(/^[A-Z].{20,}\.$/);
    }
  });

  it('derives each error\'s status from the catalogue', () => {
    expect(new MagistralError('MAG_ERR_PAYLOAD_TOO_LARGE', 'x').statusCode).toBe(413);
    const pull = new PullError('MAG_ERR_PULL_AUTH', 'refused', 401);
    expect(pull).toBeInstanceOf(MagistralError);
    expect(pull).toBeInstanceOf(PullErrorFromConnector);
    expect([pull.code, pull.statusCode, pull.status, pull.name]).toEqual(['MAG_ERR_PULL_AUTH', 502, 401, 'PullError']);
    const retry = new RetryableError('lock not granted');
    expect([retry.code, retry.statusCode, retry instanceof MagistralError]).toEqual(['MAG_ERR_RETRYABLE', 503, true]);
    const hold = new HoldRunError('price drop over 50 %');
    expect([hold.code, hold.reason, hold instanceof MagistralError]).toEqual(['MAG_ERR_RUN_HELD', 'price drop over 50 %', true]);
  });

  it('is the table in src/api/README.md (MAGISTRAL_WRITE_DOCS=1 rewrites it)', async () => {
    const text = await readFile(README, 'utf8');
    const [from, to] = [text.indexOf(BEGIN), text.indexOf(END)];
    expect(from, `markers missing in ${README}`).toBeGreaterThanOrEqual(0);
    expect(to).toBeGreaterThan(from);
    const want = `${text.slice(0, from + BEGIN.length)}\n${catalogueMarkdown()}\n${text.slice(to)}`;
    if (process.env.MAGISTRAL_WRITE_DOCS === '1' && want !== text) await writeFile(README, want);
    else expect(text, 'src/api/README.md error table is stale: run MAGISTRAL_WRITE_DOCS=1 npx vitest run test/errors/catalogue.test.ts').toBe(want);
  });
});
