// Preloaded (`node --import`) into a spawned `magistral`: at exit it prints the OpenTelemetry packages the
// process loaded (the SDK and instrumentations are CommonJS, so each lands in require.cache when imported).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
process.on('exit', () => {
  const packages = new Set();
  for (const file of Object.keys(require.cache)) {
    const m = /node_modules\/(@opentelemetry\/[^/]+|@fastify\/otel|import-in-the-middle|require-in-the-middle)\//.exec(file);
    if (m) packages.add(m[1]);
  }
  process.stderr.write(`\nLOADED_OTEL ${JSON.stringify([...packages].sort())}\n`);
});
