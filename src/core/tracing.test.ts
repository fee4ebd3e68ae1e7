/**
 * Traces of the engine (core/tracing.ts) with the real OpenTelemetry SDK, spans kept in memory:
 * the application's span is the parent of `strata.lookup`, which is the parent of one span per
 * tier consulted; a waiting caller has its own span; nothing secret is recorded. Without the
 * API, without an SDK, and with `tracing: false`, nothing of OpenTelemetry is touched and the
 * cache answers exactly as it does traced.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { AlwaysOffSampler, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FaultyTier } from '../../test/support/faulty-tier.js';
import { everythingRecorded, type InstalledSdk, installSdk } from '../../test/support/otel.js';
import { createStrata } from '../engine/create.js';
import type { Strata } from '../engine/strata.js';
import { StrataConfigError } from '../errors.js';
import { createCache } from '../langchain/create.js';
import { SimulatedChatModel } from '../langchain/simulated-model.js';
import { MemoryTier } from '../tiers/memory/index.js';
import { systemClock } from './clock.js';
import { deriveKey } from './key.js';
import { loadTracing, resetTracingForTests, tracingApiLoaded } from './tracing.js';

const id = randomBytes(4).toString('hex');
const CANARY_PROMPT = `canary prompt ${id} what is the capital of France`;
const CANARY_KEY = `sk-canary${id}0123456789abcdefghijklmnopqrstuv`;
const CANARY_ANSWER = `canary answer ${id}`;
const LLM = `_type:"openai",apiKey:"${CANARY_KEY}",model:"gpt-4o-mini",temperature:0`;
const gens = [
  {
    text: CANARY_ANSWER,
    generationInfo: { tokenUsage: { promptTokens: 12, completionTokens: 7, totalTokens: 19 } },
  },
];

const dirs: string[] = [];
const engines: Strata[] = [];
async function engine(tracing?: boolean): Promise<Strata> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-trace-'));
  dirs.push(dir);
  const strata = await createStrata({
    tiers: [{ type: 'memory' }, { type: 'sqlite', path: join(dir, 'cache.db') }],
    ...(tracing === undefined ? {} : { tracing }),
  });
  engines.push(strata);
  return strata;
}

let sdk: InstalledSdk;
beforeAll(() => {
  sdk = installSdk();
});
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  sdk.memory.reset();
  vi.restoreAllMocks();
});
afterAll(async () => {
  await sdk.uninstall();
});

const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const tierOutcomes = (spans: ReadableSpan[], parent: ReadableSpan) =>
  spans
    .filter((s) => parentOf(s) === parent.spanContext().spanId && s.name.startsWith('strata.tier.'))
    .map((s) => [s.attributes['strata.tier.name'], s.attributes['strata.tier.outcome']]);

describe('tracing with an SDK registered', () => {
  it('parents strata.lookup to the active span, and one tier span per tier consulted', async () => {
    const strata = await engine();
    const key = deriveKey('default', LLM, CANARY_PROMPT);
    const tracer = trace.getTracer('app');
    await tracer.startActiveSpan('app', async (app) => {
      expect(await strata.lookup(key)).toBeUndefined();
      await strata.update(key, gens);
      // Served by SQLite, as a fresh process with an empty memory tier would be.
      await strata.tier('memory')!.clear();
      expect((await strata.lookup(key))?.tier).toBe('sqlite');
      app.end();
    });
    const spans = sdk.spans();
    const app = byName(spans, 'app')[0]!;
    const lookups = byName(spans, 'strata.lookup');
    const update = byName(spans, 'strata.update')[0]!;
    expect(lookups).toHaveLength(2);
    for (const s of [...lookups, update]) {
      expect(s.spanContext().traceId).toBe(app.spanContext().traceId);
      expect(parentOf(s)).toBe(app.spanContext().spanId);
      expect(s.attributes['gen_ai.request.model']).toBe('gpt-4o-mini');
    }
    const [miss, hit] = lookups;
    expect(miss!.attributes['strata.cache.outcome']).toBe('miss');
    expect(tierOutcomes(spans, miss!)).toEqual([
      ['memory', 'miss'],
      ['sqlite', 'miss'],
    ]);
    expect(hit!.attributes).toMatchObject({
      'strata.cache.outcome': 'hit',
      'strata.cache.tier': 'sqlite',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 7,
    });
    expect(tierOutcomes(spans, hit!)).toEqual([
      ['memory', 'miss'],
      ['sqlite', 'hit'],
    ]);
    const sqliteHit = spans.find(
      (s) => parentOf(s) === hit!.spanContext().spanId && s.attributes['strata.tier.name'] === 'sqlite',
    )!;
    expect(sqliteHit.attributes['strata.tier.kind']).toBe('sqlite');
    expect(sqliteHit.attributes['strata.tier.bytes']).toBeGreaterThan(CANARY_ANSWER.length);
    expect(update.attributes).toMatchObject({ 'strata.update.outcome': 'stored', 'strata.update.tiers': 2 });
    expect(tierOutcomes(spans, update)).toEqual([
      ['memory', 'stored'],
      ['sqlite', 'stored'],
    ]);
  });

  it('says a tier failed, timed out or was skipped, without its error message', async () => {
    const faulty = new FaultyTier(
      new MemoryTier({ maxEntries: 100, maxBytes: 1e6, clock: systemClock }),
      'flaky',
    );
    const strata = await createStrata({
      // Each lookup of the key on its own, not waiting for the one before.
      coalesceWaitMs: 0,
      tiers: [
        {
          type: 'custom',
          tier: faulty,
          timeoutMs: 50,
          breaker: { failureThreshold: 2, cooldownMs: 60_000, maxCooldownMs: 60_000 },
        },
        { type: 'memory' },
      ],
    });
    engines.push(strata);
    const key = deriveKey('default', LLM, CANARY_PROMPT);
    faulty.fault = 'throw';
    await strata.lookup(key);
    faulty.fault = 'hang';
    await strata.lookup(key);
    // The breaker is open now: the tier is not asked.
    await strata.lookup(key);
    await strata.update(key, gens);
    faulty.fault = 'none';
    const flaky = sdk.spans().filter((s) => s.attributes['strata.tier.name'] === 'flaky');
    expect(
      flaky.map((s) => [s.name, s.attributes['strata.tier.outcome'], s.attributes['error.type']]),
    ).toEqual([
      ['strata.tier.lookup', 'error', 'error'],
      ['strata.tier.lookup', 'error', 'timeout'],
      ['strata.tier.lookup', 'skipped', undefined],
      ['strata.tier.update', 'skipped', undefined],
    ]);
    expect(flaky[0]!.status.code).toBe(2);
    expect(everythingRecorded(sdk.spans())).not.toContain('connection refused');
  });

  it('records no prompt, answer, API key, llm string or cache key', async () => {
    const strata = await engine();
    const key = deriveKey('default', LLM, CANARY_PROMPT);
    await strata.lookup(key);
    await strata.update(key, gens);
    await strata.lookup(key);
    const recorded = everythingRecorded(sdk.spans());
    expect(sdk.spans().length).toBeGreaterThan(4);
    for (const secret of [id, CANARY_KEY, key.hash, key.hash.slice(0, 12), 'apiKey', 'temperature'])
      expect(recorded).not.toContain(secret);
  });

  it('gives a caller that waits for another caller its own strata.coalesce.wait span', async () => {
    const strata = await engine();
    const key = deriveKey('default', LLM, CANARY_PROMPT);
    const tracer = trace.getTracer('app');
    // The first caller misses and leads; the second waits for its update.
    const led = await tracer.startActiveSpan('leader', async (s) => {
      const hit = await strata.lookup(key);
      s.end();
      return hit;
    });
    expect(led).toBeUndefined();
    const waiting = tracer.startActiveSpan('follower', async (s) => {
      const hit = await strata.lookup(key);
      s.end();
      return hit;
    });
    await strata.update(key, gens);
    expect((await waiting)?.coalesced).toBe(true);
    const spans = sdk.spans();
    const follower = byName(spans, 'follower')[0]!;
    const lookup = spans.find(
      (s) => s.name === 'strata.lookup' && parentOf(s) === follower.spanContext().spanId,
    )!;
    expect(lookup.attributes['strata.cache.outcome']).toBe('coalesced');
    const wait = byName(spans, 'strata.coalesce.wait');
    expect(wait).toHaveLength(1);
    expect(parentOf(wait[0]!)).toBe(lookup.spanContext().spanId);
    expect(wait[0]!.attributes).toMatchObject({
      'strata.coalesce.scope': 'process',
      'strata.coalesce.answered': true,
    });
  });

  it('traces the LangChain adapter: the application span, then strata.lookup, then the tiers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-trace-'));
    dirs.push(dir);
    const cache = await createCache({
      tiers: [{ type: 'memory' }, { type: 'sqlite', path: join(dir, 'cache.db') }],
    });
    engines.push(cache.strata);
    const model = cache.attach(new SimulatedChatModel({ apiKey: CANARY_KEY }));
    const tracer = trace.getTracer('app');
    const answers = await tracer.startActiveSpan('app', async (app) => {
      const first = await model.invoke(CANARY_PROMPT);
      const second = await model.invoke(CANARY_PROMPT);
      app.end();
      return [first.content, second.content];
    });
    expect(answers[1]).toEqual(answers[0]);
    const spans = sdk.spans();
    const app = byName(spans, 'app')[0]!;
    const lookups = byName(spans, 'strata.lookup');
    expect(lookups.map((s) => s.attributes['strata.cache.outcome'])).toEqual(['miss', 'hit']);
    for (const s of lookups) {
      expect(parentOf(s)).toBe(app.spanContext().spanId);
      expect(s.attributes['gen_ai.request.model']).toBe('simulated-gpt');
    }
    expect(tierOutcomes(spans, lookups[1]!)).toEqual([['memory', 'hit']]);
    const recorded = everythingRecorded(spans);
    for (const secret of [id, CANARY_KEY, String(answers[0])]) expect(recorded).not.toContain(secret);
  });

  it('makes no span at all under tracing: false', async () => {
    const active = vi.spyOn(context, 'active');
    const strata = await engine(false);
    const key = deriveKey('default', LLM, CANARY_PROMPT);
    await strata.lookup(key);
    await strata.update(key, gens);
    expect((await strata.lookup(key))?.tier).toBe('memory');
    expect(sdk.spans()).toEqual([]);
    expect(active).not.toHaveBeenCalled();
  });

  it('makes no tier span for a lookup the sampler drops', async () => {
    await sdk.uninstall();
    const dropping = installSdk({ sampler: new AlwaysOffSampler() });
    try {
      const strata = await engine();
      const key = deriveKey('default', LLM, CANARY_PROMPT);
      await strata.lookup(key);
      await strata.update(key, gens);
      expect((await strata.lookup(key))?.tier).toBe('memory');
      expect(dropping.spans()).toEqual([]);
    } finally {
      await dropping.uninstall();
      sdk = installSdk();
    }
  });
});

describe('tracing: the config field', () => {
  it('is a boolean, and says so by name', async () => {
    const error = await createStrata({ tiers: [{ type: 'memory' }], tracing: 'off' as never }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StrataConfigError);
    expect((error as StrataConfigError).message).toMatch(/tracing.*must be true or false/);
  });
});

describe('without an SDK, or without the API', () => {
  /** What the cache answers and stores for one miss, update and hit, whatever traces it. */
  async function behaviour(strata: Strata): Promise<unknown> {
    const key = deriveKey('default', LLM, CANARY_PROMPT);
    const miss = await strata.lookup(key);
    await strata.update(key, gens);
    const hit = await strata.lookup(key);
    const stats = await strata.stats({ store: false });
    return { miss, hit: hit && { ...hit, entry: { ...hit.entry, createdAt: 0 } }, lookups: stats.lookups };
  }

  it('touches no context and builds no span while no SDK is registered', async () => {
    await sdk.uninstall();
    let reinstalled = false;
    try {
      const active = vi.spyOn(context, 'active');
      const strata = await engine();
      expect(await behaviour(strata)).toMatchObject({ miss: undefined, hit: { tier: 'memory' }, lookups: 2 });
      expect(active).not.toHaveBeenCalled();
      expect(tracingApiLoaded()).toBe(true);
      // Registered later (as an application may), it is used from the next lookup on.
      sdk = installSdk();
      reinstalled = true;
      await strata.lookup(deriveKey('default', LLM, CANARY_PROMPT));
      expect(byName(sdk.spans(), 'strata.lookup')).toHaveLength(1);
    } finally {
      if (!reinstalled) sdk = installSdk();
    }
  });

  it('behaves identically and calls nothing of OpenTelemetry when the API is not installed', async () => {
    const traced = await behaviour(await engine());
    expect(sdk.spans().length).toBeGreaterThan(0);
    sdk.memory.reset();
    resetTracingForTests(async () => undefined);
    try {
      const provider = vi.spyOn(trace, 'getTracerProvider');
      const active = vi.spyOn(context, 'active');
      const strata = await engine();
      expect(tracingApiLoaded()).toBe(false);
      expect(await behaviour(strata)).toEqual(traced);
      expect(provider).not.toHaveBeenCalled();
      expect(active).not.toHaveBeenCalled();
      expect(sdk.spans()).toEqual([]);
    } finally {
      resetTracingForTests();
      await loadTracing();
    }
  });

  it('loads @opentelemetry/api in core/tracing.ts only', () => {
    const src = join(import.meta.dirname, '..');
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
      );
    const loaders = files(src)
      .filter((f) => !f.endsWith('.test.ts') && !f.includes('/monitor/'))
      .filter((f) => /(?:from|import\()\s*['"]@opentelemetry\/api/.test(readFileSync(f, 'utf8')))
      .map((f) => f.slice(src.length + 1));
    expect(loaders).toEqual([]);
    expect(readFileSync(join(src, 'core', 'tracing.ts'), 'utf8')).toContain("'@opentelemetry/api'");
  });
});
