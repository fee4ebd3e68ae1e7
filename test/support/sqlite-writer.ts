/** Child process for the shared-file test: writes N entries through a real StrataCache on one SQLite file. */
import { createCache } from '../../src/langchain/create.js';

const [path, worker, count] = process.argv.slice(2);
const cache = await createCache({
  coalesceWaitMs: 0,
  tiers: [{ type: 'sqlite', path: path!, busyTimeoutMs: 20_000 }],
});
let failures = 0;
const reasons = new Set<string>();
cache.on('error', ({ op, error }) => {
  failures++;
  reasons.add(`${op}: ${(error as { code?: string }).code ?? ''} ${error.message}`);
});
for (let i = 0; i < Number(count); i++) {
  await cache.update(`worker ${worker} prompt ${i}`, 'llm', [{ text: `answer ${worker}/${i}` }]);
}
await cache.close();
process.stdout.write(JSON.stringify({ worker, failures, reasons: [...reasons] }));
