/**
 * The Grafana dashboard against a real Prometheus (Debian's, from scripts/services.sh): it scrapes
 * a real `strata serve` (memory + SQLite tiers, fleet mode, fed by this process's cache) and a
 * gateway's monitor port (fed by requests through it to the fake LLM API) every second; then
 * every panel's query, with Grafana's variables substituted, must return at least one series,
 * and every variable's label_values at least one value. A query that returns nothing fails the
 * test with its panel's title.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AIMessage } from '@langchain/core/messages';
import type { Generation } from '@langchain/core/outputs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StrataConfig } from '../../src/config/schema.js';
import type { StrataCache } from '../../src/langchain/cache.js';
import { createCache } from '../../src/langchain/create.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { spawnTs } from '../support/run-ts.js';
import { ROOT, service } from '../support/services.js';
import { labelValuesQuery, loadDashboard, panelQueries, substitute } from './dashboard.js';

// An llm string that identifies its model (with the endpoint), as LangChain's ChatOpenAI writes it.
const LLM = '_model:"base_chat_model",_type:"openai",baseURL:"https://api.openai.com/v1",model:"gpt-4o-mini"';
const PRICES = { 'gpt-4o-mini': { input: 0.15, output: 0.6 } };
const VALUES = { job: 'strata', tier: '.+', gateway_job: 'strata-gateway' };

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves with the first match of `pattern` in the child's stdout. */
function lineOf(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}${err}`)));
  });
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const answer = (text: string): Generation[] => [
  {
    text,
    message: new AIMessage({
      content: text,
      usage_metadata: { input_tokens: 120, output_tokens: 40, total_tokens: 160 },
    }),
  } as Generation,
];

describe('the Grafana dashboard against a real Prometheus', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-grafana-'));
  let prometheus: ChildProcess | undefined;
  let serve: ChildProcess | undefined;
  let cache: StrataCache | undefined;
  let gateway: TestGateway | undefined;
  let promUrl = '';
  let traffic: Promise<void> = Promise.resolve();
  let running = true;

  const query = async (expr: string): Promise<PromResult[]> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: PromResult[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data!.result;
  };

  beforeAll(async () => {
    const bin = service('prometheus').STRATA_TEST_PROMETHEUS_BIN!;
    const config: StrataConfig = {
      namespace: 'grafana-int',
      // A small memory tier: it keeps two hot prompts; SQLite answers the warm ones it evicted, and backfills them.
      tiers: [
        { type: 'memory', maxEntries: 6 },
        { type: 'sqlite', path: join(dir, 'cache.db') },
      ],
      monitoring: { reportSeconds: 1, sampleSeconds: 1, prices: PRICES },
    };
    const configPath = join(dir, 'strata.config.json');
    writeFileSync(configPath, JSON.stringify(config));

    serve = spawnTs(join(ROOT, 'src', 'cli', 'main.ts'), ['serve', '--config', configPath, '--port', '0'], {
      cwd: dir,
    });
    const serveUrl = (await lineOf(serve, /metrics at http:\/\/(127\.0\.0\.1:\d+)\/metrics/))[1]!;

    cache = await createCache(config, { logger: { warn: () => {} } });
    gateway = await startGateway({
      tiers: [{ type: 'memory' }],
      proxy: { monitorPort: 0 },
      config: { monitoring: { prices: PRICES, sampleSeconds: 1, reportSeconds: 0 } },
    });
    const gatewayMonitor = new URL(gateway.proxy.monitorUrl!).host;

    // Traffic until the test ends: repeated and new prompts through the cache, and through the gateway.
    const c = cache;
    const gw = gateway;
    traffic = (async () => {
      for (let i = 0; running; i++) {
        // Two hot prompts the memory tier keeps; eight warm ones it cannot, which SQLite answers.
        for (const prompt of [`grafana hot ${i % 2}`, `grafana warm ${i % 8}`])
          if (!(await c.lookup(prompt, LLM))) await c.update(prompt, LLM, answer(`answer to ${prompt}`));
        await c.lookup(`grafana never stored ${i}`, LLM);
        await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-grafana-test' },
          body: JSON.stringify({
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: `gateway question ${i % 4}` }],
          }),
        }).then((r) => r.text());
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: strata',
        '    static_configs:',
        `      - targets: ['${serveUrl}']`,
        '  - job_name: strata-gateway',
        '    static_configs:',
        `      - targets: ['${gatewayMonitor}']`,
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      bin,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let promLog = '';
    prometheus.stderr!.on('data', (d: Buffer) => {
      promLog += d.toString();
    });
    for (let i = 0; (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.status !== 200; i++) {
      if (i === 150 || prometheus.exitCode !== null) throw new Error(`Prometheus did not start: ${promLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  afterAll(async () => {
    running = false;
    await traffic.catch(() => {});
    await stopChild(prometheus);
    await stopChild(serve);
    await gateway?.close();
    await cache?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes strata serve and the gateway', async () => {
    await expect
      .poll(
        async () => {
          const res = await fetch(`${promUrl}/api/v1/targets`);
          const body = (await res.json()) as {
            data: { activeTargets: Array<{ labels: { job: string }; health: string; lastError: string }> };
          };
          return body.data.activeTargets.map((t) => `${t.labels.job} ${t.health} ${t.lastError}`).sort();
        },
        { timeout: 30_000, interval: 250 },
      )
      .toEqual(['strata up ', 'strata-gateway up ']);
  });

  it('every panel query returns at least one series, every variable at least one value', async () => {
    const dashboard = loadDashboard();
    const queries = panelQueries(dashboard).map((q) => ({ ...q, promql: substitute(q.expr, VALUES) }));
    // Rates need two scrapes and the fleet's counters a report: ask until every query answers.
    let empty: string[] = [];
    await expect
      .poll(
        async () => {
          empty = [];
          for (const q of queries)
            if ((await query(q.promql)).length === 0) empty.push(`${q.panel} (${q.refId}): ${q.promql}`);
          return empty;
        },
        { timeout: 45_000, interval: 1_000 },
      )
      .toEqual([]);

    for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
      const { selector, label } = labelValuesQuery(v.query);
      const res = await fetch(
        `${promUrl}/api/v1/label/${label}/values?match[]=${encodeURIComponent(substitute(selector, VALUES))}`,
      );
      const values = ((await res.json()) as { data: string[] }).data;
      expect(values, `variable ${v.name}`).toContain(
        v.name === 'tier' ? 'memory' : VALUES[v.name as keyof typeof VALUES],
      );
    }
  });

  it('shows the traffic: hits, savings priced per model, both tiers, the gateway’s hits', async () => {
    const value = async (expr: string) => Number((await query(substitute(expr, VALUES)))[0]?.value[1]);
    const ratio = await value('sum(strata_hits_total{job=~"$job"}) / sum(strata_lookups_total{job=~"$job"})');
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThan(1);
    expect(await value('sum(strata_saved_tokens_total{job=~"$job"})')).toBeGreaterThan(0);
    expect(await value('sum(strata_saved_cost_usd_total{job=~"$job"})')).toBeGreaterThan(0);
    const tiers = await query('sum by (tier) (strata_tier_hits_total{job="strata"}) > 0');
    expect(tiers.map((t) => t.metric.tier).sort()).toEqual(['memory', 'sqlite']);
    expect(await value('sum(strata_tier_backfills_total{job="strata", tier="memory"})')).toBeGreaterThan(0);
    expect(
      await value('sum(strata_proxy_requests_total{job="strata-gateway", cache="hit"})'),
    ).toBeGreaterThan(0);
  });
});
