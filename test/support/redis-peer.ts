/**
 * A second application instance for the cross-process Redis tests, in its own process:
 *   l1 <url> <prefix>            caches a prompt in its memory tier, prints "ready", then prints
 *                                "gone <epoch ms>" as soon as it stops serving it
 *   herd <url> <prefix> <at>     at epoch ms <at>, invokes an attached 500 ms model once; prints its call count
 *   late <url> <prefix> <at>     at epoch ms <at>, invokes a 20 ms model through withCache; prints its
 *                                call count and the epoch ms it was answered at
 */
import { createInterface } from 'node:readline';
import { createCache } from '../../src/langchain/create.js';
import { SimulatedChatModel } from '../../src/langchain/simulated-model.js';
import { withCache } from '../../src/langchain/with-cache.js';

const [mode, url, keyPrefix, at] = process.argv.slice(2);
const cache = await createCache(
  { tiers: [{ type: 'memory' }, { type: 'redis', url: url!, keyPrefix: keyPrefix! }] },
  { logger: { warn: (m) => process.stderr.write(`${m}\n`) } },
);
const LLM = 'model:"peer"';

if (mode === 'l1') {
  for (;;) {
    const hit = await cache.lookupWithInfo('What does plan A cost?', LLM);
    if (hit?.tier === 'memory') break;
    await new Promise((r) => setTimeout(r, 5));
  }
  process.stdout.write('ready\n');
  for (;;) {
    const hit = await cache.lookupWithInfo('What does plan A cost?', LLM);
    if (!hit) break;
    await new Promise((r) => setTimeout(r, 1));
  }
  process.stdout.write(`gone ${Date.now()}\n`);
} else if (mode === 'herd') {
  const model = cache.attach(new SimulatedChatModel({ latencyMs: 500 }));
  await new Promise((r) => setTimeout(r, Math.max(0, Number(at) - Date.now())));
  const answer = await model.invoke('The question every instance asks at once');
  process.stdout.write(`${JSON.stringify({ calls: model.calls, content: answer.content })}\n`);
} else if (mode === 'late') {
  const model = new SimulatedChatModel({ latencyMs: 20 });
  await new Promise((r) => setTimeout(r, Math.max(0, Number(at) - Date.now())));
  const answer = await withCache(model, cache).invoke('The question another instance failed to answer');
  const answeredAt = Date.now();
  process.stdout.write(`${JSON.stringify({ calls: model.calls, content: answer.content, answeredAt })}\n`);
}
createInterface({ input: process.stdin }).close();
await cache.close();
