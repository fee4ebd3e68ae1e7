/**
 * The gateway on a faulty network to its upstream: the fake LLM API behind a Toxiproxy proxy, the
 * gateway (memory tier) in front, and a steady mix of requests (known and new prompts, JSON and
 * streamed, bursts of identical concurrent misses) while one fault of the chaos suite's
 * (test/support/chaos.ts) is on the link. Each case holds the gateway to what it promises:
 *
 * - every request ends within the gateway's upstream bounds: its first byte within `timeoutMs`
 *   (the wait for the upstream's headers) plus `idleTimeoutMs` (a JSON answer is read whole before
 *   it is sent), and no silence while it is read longer than `idleTimeoutMs`, each plus the suite's
 *   margin. The gateway sets no deadline on an answer that keeps coming (a long stream streams as
 *   long as it does): a bandwidth-starved answer may take longer in all, never longer silent;
 * - every answer is a correct, complete one for its prompt, or a clean error: an error status
 *   with an API error body, or (a stream already under way) a stream cut before its end, which
 *   the SDKs raise as an error;
 * - no hit is ever a cut or damaged answer, in JSON or streamed: a stream cut mid-way is not stored;
 * - once the fault is gone the same gateway answers and caches again (a new prompt: a miss, then
 *   a hit), without a restart;
 * - the counters add up: the gateway's per-status request counters account for every request,
 *   its hits are the engine's, and the engine's lookups are its hits and misses.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FAULT_MS,
  type Fault,
  FULL,
  faultsFor,
  fullFaultsFor,
  HEALTHY_MS,
  LoopStalls,
  MARGIN_MS,
  RECOVERY_MS,
  sleep,
  WORKERS,
} from '../../test/support/chaos.js';
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.js';
import { startGateway } from '../../test/support/gateway.js';
import { type ChaosProxy, toxiproxy } from '../../test/support/toxiproxy.js';

/** The gateway's wait for the upstream's headers, and for each piece of its body after them. */
const UPSTREAM_TIMEOUT_MS = 500;
const IDLE_TIMEOUT_MS = 500;
/**
 * How late the gateway's upstream timeouts may fire: undici runs its headers and body timeouts on
 * its "fast timers", which tick about every 500 ms and target a 1 s resolution
 * (undici/lib/util/timers.js, RESOLUTION_MS), so a 500 ms timeout fires 500 to about 1,500 ms in.
 * Immaterial at the gateway's defaults (600 s, 120 s); here it is most of the slack. Plus the
 * suite's margin (event-loop delay on the shared 2-core machine).
 */
const SLACK_MS = 1_000 + MARGIN_MS;
/** First byte: the headers' wait, then a JSON answer's body, read whole before it is sent. */
const FIRST_BYTE_BOUND_MS = UPSTREAM_TIMEOUT_MS + IDLE_TIMEOUT_MS + SLACK_MS;
const SILENCE_BOUND_MS = IDLE_TIMEOUT_MS + SLACK_MS;
/** The upstream's replies: a JSON answer is about 530 bytes with its headers, a stream 1.6 KB. */
const CUT_BYTES = 400;
const CLOSE_BYTES = 1_000;
/** The client's own limit, far past the bounds: a request still open then has hung. */
const CLIENT_LIMIT_MS = 10_000;
const POOL = 12;

/**
 * The tiers' faults, scaled to the gateway: its timeout, its replies' sizes (every one is cut).
 * The latency acts on the requests, which delays the upstream's answer just as well: Toxiproxy
 * 2.12 cannot take a latency toxic off the replies while their client (undici, on its timeout)
 * closes connections: the DELETE hangs until Toxiproxy's own 25 s API timeout, blocking the
 * shared service (reproduced without the gateway: a plain fetch aborted after 500 ms does it).
 */
const GATEWAY_CASES: Fault[] = [
  ...faultsFor(UPSTREAM_TIMEOUT_MS, CUT_BYTES, CLOSE_BYTES, 'upstream'),
  // A request is some 300 bytes with its headers: cut inside the first one.
  ...(FULL ? fullFaultsFor(UPSTREAM_TIMEOUT_MS, 'upstream', 200) : []),
];

type Phase = 'healthy' | 'fault' | 'recovery';

/** What one request got. */
interface Outcome {
  kind: 'answer' | 'error' | 'cut';
  cache: string | undefined;
  tier: string | undefined;
  /** Client-side: to the response's headers, the longest silence reading its body. */
  firstByteMs: number;
  silenceMs: number;
  /** Body bytes received. */
  bytes: number;
  /** The answer's text, for an answer. */
  text?: string;
  detail?: string;
  /** Why the response was not a clean one (no API error body, a connection broken without one). */
  unclean?: string;
}

/** A request's answer text must be exactly what the fake answered to its prompt, in one call. */
function isAnswerTo(prompt: string, text: string | undefined): boolean {
  const answer = /^Answer #\d+ to: (.*)$/s.exec(text ?? '');
  return answer?.[1] === prompt;
}

/** The streamed chat chunks' text, and whether the stream ended as the API ends one. */
function assemble(sse: string): { text: string; done: boolean } {
  let text = '';
  let done = false;
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const data = line.slice(6).trim();
    if (data === '[DONE]') {
      done = true;
      continue;
    }
    const chunk = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string | null } }> };
    text += chunk.choices?.[0]?.delta?.content ?? '';
  }
  return { text, done };
}

function errorMessage(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { error?: { message?: string } }).error?.message;
  } catch {
    return undefined;
  }
}

/** One chat request through the gateway, timed from the client. */
async function ask(gateway: string, prompt: string, stream: boolean): Promise<Outcome> {
  const started = performance.now();
  let firstByteMs = Number.NaN;
  let silenceMs = 0;
  let cache: string | undefined;
  let tier: string | undefined;
  const bytes: Buffer[] = [];
  try {
    const res = await fetch(`${gateway}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-chaos-suite-key' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }], stream }),
      signal: AbortSignal.timeout(CLIENT_LIMIT_MS),
    });
    firstByteMs = performance.now() - started;
    cache = res.headers.get('x-strata-cache') ?? undefined;
    tier = res.headers.get('x-strata-tier') ?? undefined;
    let last = performance.now();
    const reader = res.body?.getReader();
    for (let next = await reader?.read(); next && !next.done; next = await reader?.read()) {
      const now = performance.now();
      silenceMs = Math.max(silenceMs, now - last);
      last = now;
      bytes.push(Buffer.from(next.value));
    }
    silenceMs = Math.max(silenceMs, performance.now() - last);
    const body = Buffer.concat(bytes).toString('utf8');
    const timing = { cache, tier, firstByteMs, silenceMs, bytes: body.length };
    if (res.status !== 200) {
      // A clean error: the API's error shape, which the SDKs parse.
      const message = errorMessage(body);
      return message
        ? { kind: 'error', ...timing, detail: `${res.status} ${message}` }
        : {
            kind: 'error',
            ...timing,
            unclean: `status ${res.status} without an API error: ${body.slice(0, 80)}`,
          };
    }
    if (stream) {
      const { text, done } = assemble(body);
      // A 200 stream that ends without [DONE] is a cut the client sees as one; it is no answer.
      return done ? { kind: 'answer', ...timing, text } : { kind: 'cut', ...timing, text };
    }
    const json = JSON.parse(body) as { choices?: Array<{ message?: { content?: string } }> };
    return { kind: 'answer', ...timing, text: json.choices?.[0]?.message?.content };
  } catch (error) {
    // The connection broke: before the headers (the gateway never answers so: its errors reach
    // the client as a status) or mid-body (a stream cut after it began, or a client limit).
    const now = performance.now();
    const received = bytes.reduce((n, b) => n + b.length, 0);
    const message = `${(error as Error).name}: ${(error as Error).message}`;
    // A stream is failed by breaking its connection (flight.ts): its 200 may not have left yet.
    if (Number.isNaN(firstByteMs) && stream)
      return {
        kind: 'cut',
        cache,
        tier,
        firstByteMs: now - started,
        silenceMs,
        bytes: 0,
        detail: `broken: ${message}`,
      };
    if (Number.isNaN(firstByteMs))
      return {
        kind: 'error',
        cache,
        tier,
        firstByteMs: now - started,
        silenceMs,
        bytes: 0,
        unclean: `broken before a response: ${message}`,
      };
    const silence = Math.max(silenceMs, now - started - firstByteMs);
    return { kind: 'cut', cache, tier, firstByteMs, silenceMs: silence, bytes: received, detail: message };
  }
}

class GatewayWorkload {
  phase: Phase = 'healthy';
  readonly requests: Record<Phase, number> = { healthy: 0, fault: 0, recovery: 0 };
  readonly answers: Record<Phase, number> = { healthy: 0, fault: 0, recovery: 0 };
  readonly errors: Record<Phase, number> = { healthy: 0, fault: 0, recovery: 0 };
  readonly cuts: Record<Phase, number> = { healthy: 0, fault: 0, recovery: 0 };
  /** Responses by x-strata-cache (and tier for hits). */
  readonly byCache = new Map<string, number>();
  /** Answers that are not their prompt's complete answer, and hits that failed. */
  readonly wrong: string[] = [];
  readonly late: string[] = [];
  /** Errors that were not clean: no API error body, or the connection broken before a response. */
  readonly broken: string[] = [];
  /** Prompts whose answer failed or was cut: none may later come back damaged. */
  readonly damaged = new Set<string>();
  readonly errorSamples = new Set<string>();
  /** What failed requests got: an error status, or a cut stream. */
  readonly failedAs = new Set<string>();
  readonly slowestFirstByte: Record<Phase, number> = { healthy: 0, fault: 0, recovery: 0 };
  longestSilence = 0;
  /** The fault's bandwidth cap once it is on (KB/s). */
  rateKBps: number | undefined;
  readonly stalls = new LoopStalls();
  private stopped = false;
  private fresh = 0;
  private readonly loops: Promise<void>[] = [];
  readonly pool: string[];

  constructor(
    private readonly gateway: string,
    private readonly run: string,
  ) {
    this.pool = Array.from({ length: POOL }, (_, i) => `chaos ${run} question ${i}`);
  }

  start(): void {
    for (let w = 0; w < WORKERS; w++) this.loops.push(this.loop());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const r = Math.random();
      const stream = Math.random() < 0.5;
      if (r < 0.4) await this.request(this.pool[Math.floor(Math.random() * POOL)]!, stream);
      else if (r < 0.85) await this.request(`chaos ${this.run} new ${this.fresh++}`, stream);
      else {
        // Identical concurrent misses: one call upstream, the others follow it.
        const prompt = `chaos ${this.run} herd ${this.fresh++}`;
        await Promise.all([0, 1, 2, 3].map((i) => this.request(prompt, i % 2 === 0)));
      }
      await sleep(5);
    }
  }

  async request(prompt: string, stream: boolean): Promise<Outcome> {
    const phase = this.phase;
    const started = performance.now();
    const outcome = await ask(this.gateway, prompt, stream);
    // The event loop's stalls meanwhile are the machine's load (LoopStalls), not the gateway's wait.
    const stalled = this.stalls.during(started, performance.now());
    this.requests[phase]++;
    const label = outcome.cache === 'hit' ? `hit:${outcome.tier}` : String(outcome.cache);
    this.byCache.set(label, (this.byCache.get(label) ?? 0) + 1);
    this.slowestFirstByte[phase] = Math.max(this.slowestFirstByte[phase], outcome.firstByteMs);
    this.longestSilence = Math.max(this.longestSilence, outcome.silenceMs);
    const what = `${phase} ${stream ? 'stream' : 'json'} ${outcome.cache ?? '-'} "${prompt}"`;
    // Under a bandwidth cap a JSON answer also takes its size (and its headers') over the rate.
    const transferMs =
      this.rateKBps && !stream ? ((outcome.bytes + 1_024) / (this.rateKBps * 1_024)) * 1_000 : 0;
    const over = (ms: number, bound: number) => ms > bound && ms - stalled > bound;
    if (
      over(outcome.firstByteMs, FIRST_BYTE_BOUND_MS + transferMs) ||
      over(outcome.silenceMs, SILENCE_BOUND_MS)
    )
      this.late.push(
        `${what}: first byte ${Math.round(outcome.firstByteMs)} ms, silence ${Math.round(outcome.silenceMs)} ms, loop stalled ${Math.round(stalled)} ms`,
      );
    if (outcome.kind === 'answer') {
      this.answers[phase]++;
      if (!isAnswerTo(prompt, outcome.text))
        this.wrong.push(`${what}: ${String(outcome.text ?? outcome.detail).slice(0, 120)}`);
    } else {
      this.damaged.add(prompt);
      if (outcome.kind === 'error') this.errors[phase]++;
      else this.cuts[phase]++;
      this.failedAs.add(outcome.kind === 'cut' ? 'cut stream' : (outcome.detail?.slice(0, 3) ?? 'error'));
      if (this.errorSamples.size < 4)
        this.errorSamples.add(`${outcome.kind}: ${outcome.detail?.slice(0, 90)}`);
      if (outcome.unclean) this.broken.push(`${what}: ${outcome.unclean}`);
      // A hit is served from the cache, where the upstream's faults cannot reach.
      if (outcome.cache === 'hit' && outcome.tier !== 'coalesced')
        this.wrong.push(`${what}: a hit failed: ${outcome.detail}`);
    }
    return outcome;
  }
}

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm({ pieceDelayMs: 5, keepCalls: false });
});
afterAll(async () => {
  await fake.close();
});

describe('gateway with a faulty network to its upstream (Toxiproxy)', () => {
  it.each(GATEWAY_CASES)(
    '$name: bounded answers or clean errors, no damaged hit, caches again after',
    async (fault) => {
      const upstream = new URL(fake.url).host;
      const proxy: ChaosProxy = await toxiproxy().createProxy('gateway-upstream', upstream);
      const gw = await startGateway({
        fake,
        proxy: {
          upstreams: [{ url: `http://${proxy.listen}`, api: 'openai' }],
          timeoutMs: UPSTREAM_TIMEOUT_MS,
          idleTimeoutMs: IDLE_TIMEOUT_MS,
        },
      });
      const run = randomUUID().slice(0, 8);
      const workload = new GatewayWorkload(gw.url, run);
      try {
        workload.start();
        await sleep(HEALTHY_MS);
        workload.phase = 'fault';
        const faultAt = performance.now();
        const remove = await fault.apply(proxy);
        workload.rateKBps = fault.rateKBps;
        await sleep(Math.max(0, FAULT_MS - (performance.now() - faultAt)));
        await remove();
        const clearedAt = performance.now();
        // (rateKBps stays: requests begun under the cap may still be coming through at its rate.)
        workload.phase = 'recovery';
        // Caching again: a new prompt is answered by the upstream, then by the cache.
        let probe = 0;
        const cachesAgain = async () => {
          const prompt = `chaos ${run} after ${probe++}`;
          const first = await workload.request(prompt, probe % 2 === 0);
          const second = await workload.request(prompt, probe % 2 === 1);
          return first.kind === 'answer' && second.kind === 'answer' && second.cache === 'hit'
            ? 'caching'
            : `not yet: ${first.kind} ${first.cache}, then ${second.kind} ${second.cache}`;
        };
        await expect.poll(cachesAgain, { timeout: RECOVERY_MS, interval: 50 }).toBe('caching');
        const recoveredMs = Math.round(performance.now() - clearedAt);
        await workload.stop();

        // Every prompt whose answer failed or was cut during the fault, asked again both ways: a
        // correct answer (a hit only if a complete answer was stored since), never a damaged one.
        const again = [...workload.damaged].slice(0, 16);
        for (const prompt of again) {
          await workload.request(prompt, true);
          await workload.request(prompt, false);
        }

        const stats = await gw.proxy.strata.stats({ store: false });
        const counted = (status: 'hit' | 'miss' | 'coalesced' | 'error' | 'bypass') =>
          gw.proxy.counters.total(status);
        const totals = {
          hit: counted('hit'),
          miss: counted('miss'),
          coalesced: counted('coalesced'),
          error: counted('error'),
          bypass: counted('bypass'),
        };
        const requests = workload.requests.healthy + workload.requests.fault + workload.requests.recovery;
        console.log(
          `[chaos] gateway, ${fault.name}: requests ${JSON.stringify(workload.requests)}, answers ${JSON.stringify(workload.answers)}, ` +
            `clean errors ${JSON.stringify(workload.errors)}, cut streams ${JSON.stringify(workload.cuts)}; by cache ${JSON.stringify(Object.fromEntries(workload.byCache))}; ` +
            `slowest first byte (ms) ${JSON.stringify(workload.slowestFirstByte, (_, v) => (typeof v === 'number' ? Math.round(v) : v))}, longest silence ${Math.round(workload.longestSilence)} ms; ` +
            `caching again ${recoveredMs} ms after the fault cleared; ${again.length} damaged prompts asked again; ` +
            `gateway counters ${JSON.stringify(totals)}; engine lookups ${stats.lookups}, hits ${stats.hits}; errors seen: ${[...workload.errorSamples].join(' | ')}`,
        );

        const record = {
          backend: 'gateway',
          fault: fault.name,
          failedAs: [...workload.failedAs].sort(),
          slowestFirstByteMs: Math.round(Math.max(...Object.values(workload.slowestFirstByte))),
          longestSilenceMs: Math.round(workload.longestSilence),
          recoveredMs,
          wrongHits: workload.wrong.length,
        };
        console.log(`[chaos-matrix] ${JSON.stringify(record)}`);

        expect(workload.wrong).toEqual([]);
        expect(workload.broken).toEqual([]);
        expect(workload.late).toEqual([]);
        expect(workload.answers.healthy).toBeGreaterThan(0);
        // The fault reached the gateway: some requests failed, or under a bandwidth cap (which the
        // gateway rides out: its bytes keep coming) were slowed past the upstream timeout.
        // (A JSON answer, some 530 bytes, takes half a second at 1 KB/s.)
        if (fault.rateKBps) expect(workload.slowestFirstByte.fault).toBeGreaterThan(400);
        else if (!fault.mild) expect(workload.errors.fault + workload.cuts.fault).toBeGreaterThan(0);
        // Counters add up: every request counted once by its outcome; the gateway's hits are the
        // engine's, and the engine's lookups its hits and misses.
        expect(totals.hit + totals.miss + totals.coalesced + totals.error + totals.bypass).toBe(requests);
        expect(totals.hit).toBe(stats.hits);
        expect(stats.hits + stats.misses).toBe(stats.lookups);
      } finally {
        await workload.stop();
        workload.stalls.stop();
        await gw.close();
      }
    },
  );
});
