/**
 * Strata's traces as an operator sees them: the real SDK exports over OTLP/HTTP to a real Jaeger
 * (scripts/services.sh `jaeger`), and the traces are read back through Jaeger's query API.
 * (a) an application span, `strata.lookup` under it through the LangChain adapter, and a span per
 * tier (memory, SQLite) under that, one trace with the right parents; (b) a gateway request sent
 * with a client `traceparent` is in that trace, and the fake upstream received the same trace id;
 * (c) neither the canary prompt nor the canary API key is anywhere in what was exported; (d) a
 * caller waiting for another instance's answer (through Redis's lease) has its wait span.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startGateway } from '../../test/support/gateway.js';
import { type InstalledSdk, installSdk } from '../../test/support/otel.js';
import { service } from '../../test/support/services.js';
import { createStrata } from '../engine/create.js';
import { createCache } from '../langchain/create.js';
import { SimulatedChatModel } from '../langchain/simulated-model.js';
import { deriveKey } from './key.js';

const env = service('jaeger');
const OTLP = env.STRATA_TEST_JAEGER_OTLP_URL!;
const QUERY = env.STRATA_TEST_JAEGER_QUERY_URL!;

const id = randomBytes(4).toString('hex');
/** Each run's traces apart from any other's in the same Jaeger. */
const SERVICE = `strata-trace-test-${id}`;
const CANARY_PROMPT = `canaryprompt${id} which river flows through Paris`;
const CANARY_KEY = `sk-canarykey${id}abcdefghijklmnopqrstuvwxyz0123`;

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  tags: Array<{ key: string; value: unknown }>;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
}

async function traces(path: string): Promise<JaegerTrace[]> {
  const res = await fetch(`${QUERY}${path}`);
  if (res.status === 404) return [];
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: JaegerTrace[] | null }).data ?? [];
}

/** The trace once Jaeger holds at least `spans` of its spans (ingestion is asynchronous). */
async function traceOf(traceId: string, spans: number): Promise<JaegerSpan[]> {
  let found: JaegerSpan[] = [];
  await vi.waitFor(
    async () => {
      found = (await traces(`/api/traces/${traceId}`)).flatMap((t) => t.spans);
      expect(found.length).toBeGreaterThanOrEqual(spans);
    },
    { timeout: 15_000, interval: 200 },
  );
  return found;
}

const parentOf = (s: JaegerSpan) => s.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
const tag = (s: JaegerSpan, key: string) => s.tags.find((t) => t.key === key)?.value;

let sdk: InstalledSdk;
const dirs: string[] = [];
beforeAll(() => {
  sdk = installSdk({ serviceName: SERVICE, exporter: new OTLPTraceExporter({ url: `${OTLP}/v1/traces` }) });
});
afterAll(async () => {
  await sdk.uninstall();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('traces in Jaeger', () => {
  it('(a) application span -> strata.lookup -> memory and SQLite tier spans, through the LangChain adapter', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-jaeger-'));
    dirs.push(dir);
    const cache = await createCache({
      tiers: [{ type: 'memory' }, { type: 'sqlite', path: join(dir, 'cache.db') }],
    });
    const model = cache.attach(new SimulatedChatModel({ apiKey: CANARY_KEY }));
    const traceId = await trace.getTracer('app').startActiveSpan('app.answer', async (app) => {
      await model.invoke(CANARY_PROMPT);
      // The answer from SQLite, as a process with an empty memory tier would get it.
      await cache.strata.tier('memory')!.clear();
      await model.invoke(CANARY_PROMPT);
      app.end();
      return app.spanContext().traceId;
    });
    await cache.close();
    await sdk.provider.forceFlush();
    // app, 2 lookups with 2 tier spans each, an update with 2, a backfill-free hit.
    const spans = await traceOf(traceId, 1 + 2 + 4 + 1 + 2);
    expect(new Set(spans.map((s) => s.traceID))).toEqual(new Set([traceId]));
    const app = spans.find((s) => s.operationName === 'app.answer')!;
    const lookups = spans.filter((s) => s.operationName === 'strata.lookup');
    expect(lookups).toHaveLength(2);
    for (const lookup of lookups) expect(parentOf(lookup)).toBe(app.spanID);
    const outcomes = lookups.map((lookup) =>
      spans
        .filter((s) => s.operationName === 'strata.tier.lookup' && parentOf(s) === lookup.spanID)
        .map((s) => `${tag(s, 'strata.tier.kind')}:${tag(s, 'strata.tier.outcome')}`)
        .sort(),
    );
    expect(outcomes).toEqual(
      expect.arrayContaining([
        ['memory:miss', 'sqlite:miss'],
        ['memory:miss', 'sqlite:hit'],
      ]),
    );
    const update = spans.find((s) => s.operationName === 'strata.update')!;
    expect(parentOf(update)).toBe(app.spanID);
    expect(
      spans.filter((s) => s.operationName === 'strata.tier.update' && parentOf(s) === update.spanID),
    ).toHaveLength(2);
  });

  it('(b) a gateway request with a client traceparent is in that trace, and so is the upstream call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-jaeger-'));
    dirs.push(dir);
    const gateway = await startGateway({
      tiers: [{ type: 'memory' }, { type: 'sqlite', path: join(dir, 'gateway.db') }],
    });
    const traceId = randomBytes(16).toString('hex');
    const clientSpan = randomBytes(8).toString('hex');
    try {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${CANARY_KEY}`,
            traceparent: `00-${traceId}-${clientSpan}-01`,
          },
          body: JSON.stringify({
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: CANARY_PROMPT }],
          }),
        });
        expect(res.headers.get('x-strata-cache')).toBe(i === 0 ? 'miss' : 'hit');
        await res.text();
      }
      expect(gateway.fake.calls).toHaveLength(1);
      const sent = gateway.fake.calls[0]!.headers.traceparent as string;
      expect(sent.split('-')[1]).toBe(traceId);
    } finally {
      await gateway.close();
    }
    await sdk.provider.forceFlush();
    const spans = await traceOf(traceId, 2 + 1 + 2);
    const requests = spans.filter((s) => s.operationName === 'strata.gateway.request');
    expect(requests).toHaveLength(2);
    for (const r of requests) expect(parentOf(r)).toBe(clientSpan);
    expect(requests.map((r) => tag(r, 'strata.cache.outcome')).sort()).toEqual(['hit', 'miss']);
    const upstream = spans.find((s) => s.operationName === 'strata.gateway.upstream')!;
    expect(requests.map((r) => r.spanID)).toContain(parentOf(upstream));
    // The provider's parent is the gateway's upstream call, in the client's trace.
    expect(gateway.fake.calls[0]!.headers.traceparent).toBe(`00-${traceId}-${upstream.spanID}-01`);
    const lookups = spans.filter((s) => s.operationName === 'strata.lookup');
    expect(lookups.map(parentOf).sort()).toEqual(requests.map((r) => r.spanID).sort());
  });

  it('(d) a caller waiting for another instance shows its wait under its lookup', async () => {
    const url = service('redis').STRATA_TEST_REDIS_URL!;
    const config = {
      tiers: [{ type: 'redis' as const, mode: 'standalone' as const, url, keyPrefix: `strata-trace-${id}` }],
    };
    const [leader, follower] = await Promise.all([createStrata(config), createStrata(config)]);
    try {
      const key = deriveKey('default', 'model:"gpt-4o-mini"', CANARY_PROMPT);
      const tracer = trace.getTracer('app');
      // The leader misses and takes the key's lease; the other instance waits for its answer.
      expect(await leader.lookup(key)).toBeUndefined();
      const waited = tracer.startActiveSpan('app.follow', async (span) => {
        const hit = await follower.lookup(key);
        span.end();
        return { hit, traceId: span.spanContext().traceId };
      });
      await vi.waitFor(() => expect(sdk.started).toContain('strata.coalesce.wait'), { timeout: 10_000 });
      await leader.update(key, [{ text: 'an answer' }]);
      const { hit, traceId } = await waited;
      expect(hit?.coalesced).toBe(true);
      await sdk.provider.forceFlush();
      const spans = await traceOf(traceId, 4);
      const lookup = spans.find((s) => s.operationName === 'strata.lookup')!;
      const wait = spans.find((s) => s.operationName === 'strata.coalesce.wait')!;
      expect(parentOf(wait)).toBe(lookup.spanID);
      expect(tag(wait, 'strata.coalesce.scope')).toBe('instances');
      expect(tag(wait, 'strata.coalesce.answered')).toBe(true);
      expect(tag(lookup, 'strata.cache.outcome')).toBe('coalesced');
    } finally {
      await leader.clear();
      await Promise.all([leader.close(), follower.close()]);
    }
  });

  it('(c) exports neither the canary prompt nor the canary API key, anywhere', async () => {
    await sdk.provider.forceFlush();
    let all: JaegerTrace[] = [];
    await vi.waitFor(
      async () => {
        all = await traces(`/api/traces?service=${SERVICE}&limit=1000&lookback=1h`);
        expect(all.length).toBeGreaterThanOrEqual(2);
      },
      { timeout: 15_000, interval: 200 },
    );
    const exported = JSON.stringify(all);
    expect(exported).toContain('strata.tier.lookup');
    for (const secret of [CANARY_KEY, CANARY_PROMPT, 'canaryprompt', 'canarykey'])
      expect(exported).not.toContain(secret);
  });
});
