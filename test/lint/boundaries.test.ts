// The build refuses what breaks the architecture: a connector importing the core past its port, and any
// import circle. These run the same checks `npm test` runs, on made-up files, so the checks cannot rot.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findCycles, importGraph } from '../../ops/lint/import-cycles.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';

describe('the connector port boundary (ESLint)', () => {
  // Made-up files are not on disk: lint them without the type-aware parser (the import rule needs no types).
  const eslint = new ESLint({
    cwd: REPO_DIR,
    overrideConfig: {
      languageOptions: { parserOptions: { projectService: false } },
      rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-misused-promises': 'off' },
    },
  });
  const lint = async (file: string, code: string) => (await eslint.lintText(code, { filePath: path.join(REPO_DIR, file) }))[0]!.messages
    .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports');

  it('refuses a connector importing the core past the port, or the workers', async () => {
    const bad = await lint('connectors/demo/reader.ts', [
      "import { mergeRun } from '../../src/pipeline/merge.ts';",
      "import { Registry } from '../../src/pipeline/registry.ts';",
      "import type { Database } from '../../src/db/index.ts';",
      "import { startWorkers } from '../../workers/index.ts';",
      'export const x = [mergeRun, Registry, startWorkers] as unknown as Database;',
    ].join('\n'));
    expect(bad.map((m) => m.line)).toEqual([1, 2, 3, 4]);
    expect(bad[0]!.message).toMatch(/only through the connector port/);
  });

  it('lets a connector use the port, type-only canonical types, and the connector kit', async () => {
    const ok = await lint('connectors/demo/reader.ts', [
      "import { PayloadError, type ConnectorPort } from '../../src/port/index.ts';",
      "import type { Price } from '../../src/schemas/types.gen.ts';",
      'export const x = (p: ConnectorPort, q: Price) => [p, q, PayloadError];',
    ].join('\n'));
    expect(ok).toEqual([]);
    const valueImport = await lint('connectors/demo/reader.ts', "import * as t from '../../src/schemas/types.gen.ts';\nexport const x = t;");
    expect(valueImport).toHaveLength(1);
  });

  it('does not restrict the core itself', async () => {
    expect(await lint('src/pipeline/demo.ts', "import { mergeRun } from './merge.ts';\nexport const x = mergeRun;")).toEqual([]);
  });
});

describe('import circles', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'magistral-cycles-'));
    await mkdir(path.join(dir, 'src'), { recursive: true });
    await writeFile(path.join(dir, 'src/a.ts'), "import { b } from './b.ts';\nexport const a = b;\n");
    await writeFile(path.join(dir, 'src/b.ts'), "import type { C } from './c.ts';\nexport const b = 1 as unknown as C;\n");
    await writeFile(path.join(dir, 'src/c.ts'), "export type C = number;\nimport './a.ts';\n");
    await writeFile(path.join(dir, 'src/d.ts'), "// import { a } from './a.ts';\nexport const d = 1;\n");
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('finds a circle through type-only and bare imports, and ignores commented ones', () => {
    const cycles = findCycles(importGraph(dir)).map((c) => c.map((f) => path.basename(f)));
    expect(cycles).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });

  it('finds none in this repository', () => {
    expect(findCycles(importGraph()).map((c) => c.map((f) => path.relative(REPO_DIR, f)))).toEqual([]);
  });
});
