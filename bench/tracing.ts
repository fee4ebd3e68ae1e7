/**
 * What OpenTelemetry tracing costs per memory-tier hit (the engine's `lookup` of 1,000 keys of
 * ~450-character prompts, derived once, as bench/encryption.ts does), in one process, rounds
 * interleaved:
 *
 *   baseline   `tracing: false` in the config: no OpenTelemetry at all
 *   (i)        `@opentelemetry/api` loaded, no SDK registered (what an application that installs
 *              the API for a library, and no SDK, gets)
 *   (i+)       the same with AsyncLocalStorageContextManager registered and no provider: what the
 *              context manager costs the async hit path by itself, Strata doing nothing more
 *   (ii)       the SDK registered (TracerProvider, AsyncLocalStorage context manager) with
 *              AlwaysOffSampler: every lookup is asked for and dropped by the sampler
 *   (iii)      the SDK with every lookup sampled (AlwaysOnSampler): a `strata.lookup` and a
 *              `strata.tier.lookup` span per hit, handed to a SimpleSpanProcessor whose exporter
 *              drops them (no network, no serialization measured)
 *
 * The SDK's globals are what differs between the cases, so each round installs the case's own
 * before timing it (not timed).
 */
import { performance } from 'node:perf_hooks';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { type CacheKey, createStrata, deriveKey } from '../src/index.js';
import { median, prompts } from './harness.js';

const ROUNDS = 41;
const OPS = 5_000;
const keys: CacheKey[] = prompts(1_000).map((prompt) =>
  deriveKey('bench', '{"model":"gpt-4o-mini","endpoint":"https://api.example.test/v1"}', prompt),
);
/** A typical chat answer as the engine stores it: one generation with text and usage. */
const answer = (i: number) => [
  {
    text: `To do that, open Settings -> Security -> API keys (#${i}). Admins see an extra confirmation step.`,
    generationInfo: { tokenUsage: { promptTokens: 120, completionTokens: 40, totalTokens: 160 } },
  },
];

/** An exporter that keeps nothing: the span pipeline is measured, not the network. */
class DroppingExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.exported += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

const contextManager = new AsyncLocalStorageContextManager();
const exporter = new DroppingExporter();
const providers = {
  off: new TracerProvider({ sampler: new AlwaysOffSampler() }),
  on: new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  }),
};

/** Installs one case's globals: nothing, the context manager alone, or it and one provider. */
function install(provider: TracerProvider | 'context' | undefined): void {
  trace.disable();
  context.disable();
  if (!provider) return;
  context.setGlobalContextManager(contextManager.enable());
  if (provider !== 'context') trace.setGlobalTracerProvider(provider);
}

const tiers = [{ type: 'memory' as const, maxEntries: 10_000 }];
const untraced = await createStrata({ namespace: 'bench', tiers, tracing: false });
const traced = await createStrata({ namespace: 'bench', tiers });
for (const cache of [untraced, traced])
  for (let i = 0; i < keys.length; i++) await cache.update(keys[i]!, answer(i));

const cases = [
  { name: 'baseline: `tracing: false`', cache: untraced, provider: undefined },
  { name: '(i) API loaded, no SDK registered', cache: traced, provider: undefined },
  {
    name: '(i+) the same, with the context manager registered (no provider)',
    cache: traced,
    provider: 'context' as const,
  },
  { name: '(ii) SDK, AlwaysOffSampler (0%)', cache: traced, provider: providers.off },
  { name: '(iii) SDK, AlwaysOnSampler (100%), dropping exporter', cache: traced, provider: providers.on },
];

for (const c of cases) {
  install(c.provider);
  if (!(await c.cache.lookup(keys[0]!))) throw new Error('benchmark setup: a lookup missed');
}
install(providers.on);
const before = exporter.exported;
await traced.lookup(keys[0]!);
if (exporter.exported - before !== 2) throw new Error('benchmark setup: a sampled hit is not two spans');

const samples = cases.map(() => [] as number[]);
for (let r = -1; r < ROUNDS; r++) {
  for (let k = 0; k < cases.length; k++) {
    const index = (Math.max(r, 0) + k) % cases.length;
    const c = cases[index]!;
    install(c.provider);
    const start = performance.now();
    for (let i = 0; i < OPS; i++) await c.cache.lookup(keys[i % keys.length]!);
    // Round -1 warms every case up.
    if (r >= 0) samples[index]!.push(((performance.now() - start) * 1000) / OPS);
  }
}
install(undefined);

const medians = samples.map(median);
console.log(
  `\n### tracing: cost per memory-tier hit, ${ROUNDS} rounds of ${OPS.toLocaleString('en-US')} hits\n`,
);
console.log('| case | median µs/hit | ops/s | ratio to baseline | added µs/hit |');
console.log('|---|---:|---:|---:|---:|');
for (const [i, c] of cases.entries()) {
  const us = medians[i]!;
  console.log(
    `| ${c.name} | ${us.toFixed(2)} | ${Math.round(1e6 / us).toLocaleString('en-US')} | ${(us / medians[0]!).toFixed(2)}x | ${(us - medians[0]!).toFixed(2)} |`,
  );
}
console.log(`\n(spans exported by (iii): ${exporter.exported.toLocaleString('en-US')})`);
await untraced.close();
await traced.close();
await providers.on.shutdown();
await providers.off.shutdown();
