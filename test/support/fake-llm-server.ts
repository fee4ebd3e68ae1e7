/**
 * The fake LLM API (fake-llm.ts) as a process of its own, for the gateway benchmark: prints
 * `listening <url>` and serves until killed; `GET /_fake/calls` says how many calls it answered. `--piece-delay MS` sets the delay between streamed pieces.
 */
import { startFakeLlm } from './fake-llm.js';

const at = process.argv.indexOf('--piece-delay');
const fake = await startFakeLlm({
  pieceDelayMs: at > 0 ? Number(process.argv[at + 1]) : 0,
  keepCalls: false,
});
console.log(`listening ${fake.url}`);
process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
