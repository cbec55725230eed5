// A small real connector for API tests (one record per non-empty line, `key=value` pairs split by a
// delimiter), registered so flows can name it while connectors/ is being written.
import { registerConnector, type Connector, type SourceRecord } from '../../src/pipeline/connector.ts';
import type { Readable } from 'node:stream';

export const TEST_CONNECTOR = 'apitest.lines';

export const linesConnector: Connector = {
  kind: TEST_CONNECTOR,
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { delimiter: { type: 'string', minLength: 1, maxLength: 1 } },
  },
  async *parse(input: Readable, ctx) {
    const delimiter = (ctx.options.delimiter as string | undefined) ?? ';';
    let rest = '';
    let line = 0;
    const toRecord = (text: string): SourceRecord => ({
      line,
      data: Object.fromEntries(text.split(delimiter).map((kv) => {
        const i = kv.indexOf('=');
        return i < 0 ? [kv, ''] : [kv.slice(0, i), kv.slice(i + 1)];
      })),
    });
    for await (const chunk of input) {
      rest += String(chunk);
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      const batch: SourceRecord[] = [];
      for (const l of lines) {
        line++;
        if (l.trim()) batch.push(toRecord(l.trim()));
      }
      if (batch.length) yield batch;
    }
    if (rest.trim()) {
      line++;
      yield [toRecord(rest.trim())];
    }
  },
};

registerConnector(linesConnector);
