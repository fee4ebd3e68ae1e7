import { AIMessage } from '@langchain/core/messages';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';
import { ManualClock } from '../core/clock.js';
import { modelOf } from '../core/model-of.js';
import { createCache } from '../langchain/create.js';
import type { Alert } from './alerts.js';
import { createMonitor } from './index.js';
import { startServer } from './server.js';

const quiet = { warn: () => {} };

/** A monitoring config whose one rule is memory_full at 80%, evaluated only when a test asks. */
function memoryFullAlerts(webhook?: {
  url: string;
  timeoutMs: number;
  retries: number;
  headers: Record<string, string>;
}) {
  return {
    prices: {},
    sampleSeconds: 5,
    alerts: {
      intervalSeconds: 3600,
      forChecks: 1,
      clearChecks: 1,
      cooldownSeconds: 0,
      log: false,
      rules: [{ type: 'memory_full' as const, ratio: 0.8 }],
      ...(webhook ? { webhook } : {}),
    },
  };
}
const LLM = 'model:"gpt-test",temperature:0';
const reply = (text: string) => ({
  text,
  message: new AIMessage({
    content: text,
    usage_metadata: { input_tokens: 1000, output_tokens: 500, total_tokens: 1500 },
  }),
});

/** A strict reader of the Prometheus text exposition format (0.0.4): every line must parse. */
function parsePrometheus(
  text: string,
): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const samples = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (help) continue;
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const sample =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(
        line,
      );
    if (!sample) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[m[1]!] = m[2]!;
    const family = sample[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(sample[1]!) && !['histogram', 'summary'].includes(types.get(family) ?? ''))
      throw new Error(`sample before its # TYPE: ${line}`);
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return samples;
}

describe('metrics and savings', () => {
  it('/metrics parses as Prometheus text, with per-tier series and the money the hits saved', async () => {
    const cache = await createCache(
      {
        tiers: [{ type: 'memory' }, { type: 'sqlite', path: ':memory:' }],
        monitoring: { prices: { 'gpt-test': { input: 2, output: 8 } } },
      },
      { logger: quiet },
    );
    const monitor = createMonitor(cache, {
      prices: { 'gpt-test': { input: 2, output: 8 } },
      sampleSeconds: 5,
    });
    const server = await startServer(cache, monitor, { host: '127.0.0.1', port: 0 });
    try {
      await cache.update('What is Strata?', LLM, [reply('A cache.')]);
      for (let i = 0; i < 3; i++) await cache.lookup('What is Strata?', LLM);
      await cache.lookup('never asked', LLM);
      const res = await fetch(`${server.url}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const samples = parsePrometheus(await res.text());
      const one = (name: string, labels: Record<string, string>) =>
        samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      expect(one('strata_lookups_total', {})[0]?.value).toBe(4);
      expect(one('strata_tier_hits_total', { tier: 'memory', type: 'memory' })[0]?.value).toBe(3);
      expect(one('strata_tier_misses_total', { tier: 'sqlite' })[0]?.value).toBe(1);
      expect(one('strata_tier_entries', { tier: 'sqlite' })[0]?.value).toBe(1);
      expect(one('strata_tier_breaker_state', { tier: 'memory', state: 'closed' })[0]?.value).toBe(1);
      expect(one('strata_tier_latency_ms', { tier: 'memory', op: 'get', quantile: '0.99' })).toHaveLength(1);
      expect(one('strata_tier_up', { tier: 'sqlite' })[0]?.value).toBe(1);
      // Latency histograms: cumulative buckets ending at +Inf = the number of calls.
      const buckets = one('strata_tier_duration_seconds_bucket', { tier: 'memory', op: 'get' });
      expect(buckets.at(-1)).toMatchObject({ labels: { le: '+Inf' }, value: 4 });
      expect(buckets.map((b) => b.value)).toEqual([...buckets.map((b) => b.value)].sort((a, b) => a - b));
      expect(one('strata_tier_duration_seconds_count', { tier: 'memory', op: 'get' })[0]?.value).toBe(4);
      expect(one('strata_lookup_duration_seconds_count', {})[0]?.value).toBe(4);
      // 3 hits of an answer that cost 1,000 + 500 tokens at $2 / $8 per million.
      expect(one('strata_saved_tokens_total', { model: 'gpt-test', direction: 'output' })[0]?.value).toBe(
        1500,
      );
      expect(one('strata_saved_cost_usd_total', { model: 'gpt-test' })[0]?.value).toBeCloseTo(3 * 0.006, 10);
    } finally {
      await server.close();
      monitor.close();
      await cache.close();
    }
  });

  it('reads the model from the llm string LangChain serializes', () => {
    expect(modelOf('_model:"base_chat_model",_type:"openai",model:"gpt-4o-mini",temperature:0')).toBe(
      'gpt-4o-mini',
    );
    expect(modelOf('model_name:"claude-x"')).toBe('claude-x');
    expect(modelOf('_type:"fake"')).toBe('unknown');
    expect(modelOf('gpt-4o-mini')).toBe('gpt-4o-mini'); // a bare model name as the llmKey
    expect(modelOf('{"model":"gpt-4o","temperature":0}')).toBe('gpt-4o');
    expect(modelOf('{"temperature":0}')).toBe('unknown');
  });
});

describe('alerts', () => {
  it('a hit-rate rule with a minimum volume stays quiet on a cold start, fires once, and resolves', async () => {
    const clock = new ManualClock(Date.now());
    const cache = await createCache(
      { coalesceWaitMs: 0, tiers: [{ type: 'memory' }] },
      { logger: quiet, clock },
    );
    const alerts: Alert[] = [];
    const logged: string[] = [];
    const monitor = createMonitor(
      cache,
      {
        prices: {},
        sampleSeconds: 5,
        alerts: {
          intervalSeconds: 3600, // evaluated by hand below
          forChecks: 1,
          clearChecks: 2,
          cooldownSeconds: 0,
          log: true,
          rules: [{ type: 'hit_rate_below', threshold: 0.5, windowSeconds: 60, minRequests: 20 }],
        },
      },
      { logger: { warn: (m) => logged.push(m) } },
    );
    monitor.alerts.on('alert', (a) => alerts.push(a));
    const step = async () => {
      clock.advance(10_000);
      await monitor.alerts.evaluate();
    };
    try {
      await step();
      for (let i = 0; i < 3; i++) await cache.lookup(`cold ${i}`, LLM); // 3 misses: hit rate 0
      await step();
      await step();
      expect(alerts).toEqual([]);
      for (let i = 0; i < 30; i++) await cache.lookup(`miss ${i}`, LLM);
      await step();
      await step(); // still below: no second alert
      expect(alerts.map((a) => [a.id, a.state])).toEqual([['hit_rate_below:cache', 'firing']]);
      await cache.update('popular', LLM, [{ text: 'yes' }]);
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 100; i++) await cache.lookup('popular', LLM);
        await step();
      }
      expect(alerts.map((a) => a.state)).toEqual(['firing', 'resolved']);
      expect(monitor.alerts.active()).toEqual([]);
      expect(monitor.alerts.recent()[0]?.message).toMatch(/^resolved: cache hit rate/);
      // Logged once each, the state said once.
      expect(logged.map((m) => m.replace(/cache hit rate .*/, '…'))).toEqual([
        '[strata] alert firing: …',
        '[strata] alert resolved: …',
      ]);
    } finally {
      monitor.close();
      await cache.close();
    }
  });

  it.each([
    ['memory', { type: 'memory', maxBytes: 4_000 }],
    // SQLite reports its maxBytes as a typed field too, so the rule sees it (it did not before).
    ['sqlite', { type: 'sqlite', path: ':memory:', maxBytes: 100_000 }],
  ] as const)('%s tier at its byte limit', async (name, tier) => {
    const cache = await createCache({ tiers: [tier] }, { logger: quiet });
    const monitor = createMonitor(cache, memoryFullAlerts());
    try {
      for (let i = 0; i < 40; i++) await cache.update(`q${i}`, LLM, [{ text: 'x'.repeat(100) }]);
      if (name === 'sqlite')
        for (let i = 40; i < 400; i++) await cache.update(`q${i}`, LLM, [{ text: 'x'.repeat(100) }]);
      await monitor.alerts.evaluate();
      expect(monitor.alerts.active().map((a) => a.id)).toEqual([`memory_full:${name}`]);
    } finally {
      monitor.close();
      await cache.close();
    }
  });

  it('monitor.close() stops webhook retries under way', async () => {
    const cache = await createCache({ tiers: [{ type: 'memory', maxBytes: 4_000 }] }, { logger: quiet });
    let calls = 0;
    const failing = (async () => {
      calls++;
      throw new Error('connection refused');
    }) as unknown as typeof fetch;
    const monitor = createMonitor(
      cache,
      memoryFullAlerts({ url: 'http://127.0.0.1:9/hook', timeoutMs: 1_000, retries: 5, headers: {} }),
      { fetch: failing, logger: quiet },
    );
    for (let i = 0; i < 40; i++) await cache.update(`q${i}`, LLM, [{ text: 'x'.repeat(100) }]);
    await monitor.alerts.evaluate();
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(1); // the first attempt; the next retry is 250 ms later
    monitor.close();
    await new Promise((r) => setTimeout(r, 1_200)); // retries would have come at 250 and 750 ms
    expect(calls).toBe(1);
    await cache.close();
  });
});

describe('strata serve', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    for (const s of open) await s.close();
  });

  it('refuses to listen beyond loopback without a token; with one, data routes want it', async () => {
    const err: string[] = [];
    const code = await main(['serve', '--host', '0.0.0.0', '--port', '0'], {
      out: () => {},
      err: (l) => err.push(l),
      interactive: false,
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/refusing to listen on 0\.0\.0\.0 without a token/);

    const cache = await createCache({ tiers: [{ type: 'memory' }] }, { logger: quiet });
    const monitor = createMonitor(cache);
    const server = await startServer(cache, monitor, { host: '0.0.0.0', port: 0, token: 's3cret' });
    open.push({
      close: async () => {
        await server.close();
        monitor.close();
        await cache.close();
      },
    });
    const local = server.url.replace('0.0.0.0', '127.0.0.1');
    for (const path of ['/metrics', '/health', '/api/stats', '/api/alerts', '/api/series']) {
      expect((await fetch(`${local}${path}`)).status).toBe(401);
      expect((await fetch(`${local}${path}`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
        401,
      );
      expect((await fetch(`${local}${path}`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(
        200,
      );
    }
    const page = await fetch(`${local}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<title>Strata cache<\/title>/);
  });
});
