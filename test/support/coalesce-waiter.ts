/**
 * Child process for manager.test.ts: the second lookup of a missed key waits on the first
 * caller's lease, and nothing else keeps this process alive meanwhile.
 */
import { createCache } from '../../src/langchain/create.js';

const cache = await createCache({ coalesceWaitMs: 300, tiers: [{ type: 'memory' }] });
const started = performance.now();
if ((await cache.lookup('unknown', 'llm')) !== null) throw new Error('expected a miss');
const waited = await cache.lookup('unknown', 'llm');
console.log(`waited ${Math.round(performance.now() - started)} ms, got ${JSON.stringify(waited)}`);
await cache.close();
