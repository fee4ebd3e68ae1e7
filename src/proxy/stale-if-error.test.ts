/**
 * Stale-if-error through the gateway (stages/stale.ts): while the upstream fails with an outage,
 * an answer past its TTL and within its grace answers instead, as JSON or replayed as a stream,
 * with `x-strata-cache: stale`, counted; the upstream back, fresh answers; past the grace, or for
 * a request's own error, the upstream's error.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeOutage } from '../../test/support/fake-llm.js';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';
import { ManualClock } from '../core/clock.js';

const TTL = 60;
const GRACE = 600;
const START = Date.parse('2026-12-05T08:00:00Z');
const KEY = 'sk-proj-stale-if-error-0001';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

async function gateway(config: { staleIfErrorSeconds?: number } = {}) {
  const clock = new ManualClock(START);
  gw = await startGateway({
    clock,
    tiers: [{ type: 'memory' }, { type: 'sqlite', path: ':memory:' }],
    config: { defaultTtlSeconds: TTL, staleIfErrorSeconds: GRACE, ...config },
  });
  return { clock, g: gw };
}

/** Moves the clock to `seconds` after START. */
const at = (clock: ManualClock, seconds: number) => clock.advance(START + seconds * 1000 - clock.now());

function ask(
  g: TestGateway,
  question: string,
  o: { stream?: boolean; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...o.headers },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: question }],
      ...(o.stream ? { stream: true } : {}),
    }),
  });
}

async function answerOf(res: Response): Promise<string> {
  const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
  return body.choices[0]!.message.content;
}

function askMessages(g: TestGateway, question: string, stream = false): Promise<Response> {
  return fetch(`${g.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 50,
      messages: [{ role: 'user', content: question }],
      ...(stream ? { stream: true } : {}),
    }),
  });
}

async function messageText(res: Response): Promise<string> {
  const body = (await res.json()) as { content: Array<{ text?: string }> };
  return body.content.map((c) => c.text ?? '').join('');
}

/** The text a streamed Anthropic message's text deltas carry. */
function streamedMessageText(sse: string): string {
  let text = '';
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const event = JSON.parse(line.slice(6)) as { delta?: { type?: string; text?: string } };
    if (event.delta?.type === 'text_delta') text += event.delta.text ?? '';
  }
  return text;
}

/** The text a streamed answer's events carry. */
function streamedText(sse: string): string {
  let text = '';
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const event = JSON.parse(line.slice(6)) as { choices?: Array<{ delta?: { content?: string } }> };
    text += event.choices?.[0]?.delta?.content ?? '';
  }
  return text;
}

describe('gateway stale-if-error', () => {
  it('upstream down for the whole grace window: stale answers, marked and counted; back: fresh; past the grace: the error', async () => {
    const { clock, g } = await gateway();
    const first = await ask(g, 'what is our refund policy?');
    expect(first.headers.get('x-strata-cache')).toBe('miss');
    const stored = await answerOf(first);
    g.fake.outage = { status: 503 };
    for (const seconds of [TTL + 1, TTL + GRACE / 2, TTL + GRACE - 1]) {
      at(clock, seconds);
      const stale = await ask(g, 'what is our refund policy?');
      expect(stale.status).toBe(200);
      expect(stale.headers.get('x-strata-cache')).toBe('stale');
      expect(stale.headers.get('age')).toBe(String(seconds));
      expect(await answerOf(stale)).toBe(stored);
    }
    expect(g.proxy.counters.total('stale')).toBe(3);
    const stats = await g.proxy.strata.stats({ store: false });
    expect(stats.stale).toBe(3);
    expect(stats.updates).toBe(1); // never stored back
    expect(await g.proxy.monitor.metrics()).toMatch(/^strata_stale_total 3$/m);
    // The upstream is back: a fresh answer, which replaces the entry.
    g.fake.outage = undefined;
    const fresh = await ask(g, 'what is our refund policy?');
    expect(fresh.headers.get('x-strata-cache')).toBe('miss');
    const renewed = await answerOf(fresh);
    expect(renewed).not.toBe(stored);
    const hit = await ask(g, 'what is our refund policy?');
    expect(hit.headers.get('x-strata-cache')).toBe('hit');
    expect(await answerOf(hit)).toBe(renewed);
    // Down again, past this entry's TTL and grace: the upstream's error.
    g.fake.outage = { status: 503 };
    at(clock, TTL + GRACE - 1 + TTL + GRACE);
    const error = await ask(g, 'what is our refund policy?');
    expect(error.status).toBe(503);
    expect(error.headers.get('x-strata-cache')).toBe('miss');
  });

  it('a 429 and a connection broken before the answer are answered stale; a 400 is passed on', async () => {
    const { clock, g } = await gateway();
    await (await ask(g, 'q')).text();
    at(clock, TTL + 5);
    g.fake.outage = { status: 429 };
    expect((await ask(g, 'q')).headers.get('x-strata-cache')).toBe('stale');
    g.fake.outage = 'drop';
    expect((await ask(g, 'q')).headers.get('x-strata-cache')).toBe('stale');
    g.fake.outage = { status: 400 };
    const bad = await ask(g, 'q');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-strata-cache')).toBe('miss');
  });

  it('an upstream that refuses connections is answered stale', async () => {
    const { clock, g } = await gateway();
    await (await ask(g, 'q')).text();
    at(clock, TTL + 5);
    await g.fake.close(); // nothing listens on its port any more: ECONNREFUSED
    const stale = await ask(g, 'q');
    expect(stale.headers.get('x-strata-cache')).toBe('stale');
    expect(stale.status).toBe(200);
    expect(g.warnings.join('\n')).toMatch(/could not be reached/);
  });

  it('a stream broken before its first event is answered stale, replayed as a stream; after a piece of its answer, broken', async () => {
    const { clock, g } = await gateway();
    const stored = await answerOf(await ask(g, 'tell me a story'));
    at(clock, TTL + 1);
    g.fake.outage = 'drop';
    const stale = await ask(g, 'tell me a story', { stream: true });
    expect(stale.headers.get('x-strata-cache')).toBe('stale');
    expect(stale.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(streamedText(await stale.text())).toBe(stored);
    // After a piece of the answer reached the client, a broken stream stays broken, stale entry or not.
    g.fake.outage = { lead: ['start', 'content'], fail: 'drop' };
    const broken = await ask(g, 'tell me a story', { stream: true });
    expect(broken.headers.get('x-strata-cache')).toBe('miss');
    await expect(broken.text()).rejects.toThrow();
  });

  it("a stream whose first event is the upstream's overload error (HTTP 200) is answered stale, on both APIs", async () => {
    const { clock, g } = await gateway();
    const stored = await answerOf(await ask(g, 'overloaded?'));
    const storedMessage = await messageText(await askMessages(g, 'overloaded?'));
    at(clock, TTL + 1);
    g.fake.outage = 'error-event';
    const chat = await ask(g, 'overloaded?', { stream: true });
    expect(chat.headers.get('x-strata-cache')).toBe('stale');
    expect(streamedText(await chat.text())).toBe(stored);
    const messages = await askMessages(g, 'overloaded?', true);
    expect(messages.status).toBe(200);
    expect(messages.headers.get('x-strata-cache')).toBe('stale');
    expect(streamedMessageText(await messages.text())).toBe(storedMessage);
    // Without a stale entry, the error event is passed on as the upstream sent it.
    const passed = await askMessages(g, 'never asked before', true);
    expect(passed.status).toBe(200);
    expect(passed.headers.get('x-strata-cache')).toBe('miss');
    expect(await passed.text()).toMatch(/event: error\ndata: .*overloaded_error/);
  });

  const leadIns: Array<[string, 'messages' | 'chat', FakeOutage]> = [
    ['message_start, then overloaded_error', 'messages', { lead: ['start'], fail: 'overloaded_error' }],
    ['ping, then overloaded_error', 'messages', { lead: ['ping'], fail: 'overloaded_error' }],
    [
      'message_start, ping, an empty text block, then overloaded_error',
      'messages',
      { lead: ['start', 'ping', 'block'], fail: 'overloaded_error' },
    ],
    ['message_start, ping, then a broken connection', 'messages', { lead: ['start', 'ping'], fail: 'drop' }],
    [
      "OpenAI's role-only chunk, then a server_error event",
      'chat',
      { lead: ['start'], fail: 'server_error' },
    ],
  ];
  it.each(leadIns)('events with no answer yet (%s) are answered stale', async (_, api, outage) => {
    const { clock, g } = await gateway();
    const chat = api === 'chat';
    const stored = chat
      ? await answerOf(await ask(g, 'lead-in'))
      : await messageText(await askMessages(g, 'lead-in'));
    at(clock, TTL + 1);
    g.fake.outage = outage;
    const res = chat ? await ask(g, 'lead-in', { stream: true }) : await askMessages(g, 'lead-in', true);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-strata-cache')).toBe('stale');
    const body = await res.text();
    expect(chat ? streamedText(body) : streamedMessageText(body)).toBe(stored);
    expect(g.proxy.counters.total('stale')).toBe(1);
  });

  it("after events with no answer, a request's own error event, or an overload after content, is passed on as sent", async () => {
    const { clock, g } = await gateway();
    await (await ask(g, 'lead-in')).text();
    await (await askMessages(g, 'lead-in')).text();
    at(clock, TTL + 1);
    g.fake.outage = { lead: ['start'], fail: 'invalid_request_error' };
    const own = await ask(g, 'lead-in', { stream: true });
    expect(own.status).toBe(200);
    expect(own.headers.get('x-strata-cache')).toBe('miss');
    const ownBody = await own.text();
    expect(ownBody).toMatch(/^data: .*"role":"assistant".*\n\ndata: .*invalid_request_error.*\n\n$/s);
    g.fake.outage = { lead: ['start', 'content'], fail: 'overloaded_error' };
    const partial = await askMessages(g, 'lead-in', true);
    expect(partial.headers.get('x-strata-cache')).toBe('miss');
    const partialBody = await partial.text();
    expect(partialBody).toMatch(
      /event: content_block_delta\n.*Partly.*\n\nevent: error\ndata: .*overloaded_error/s,
    );
    // Broken after events with no answer and nothing kept: the gateway's 502, as before the first event.
    g.fake.outage = { lead: ['start', 'ping'], fail: 'drop' };
    const dropped = await askMessages(g, 'never asked before', true);
    expect(dropped.status).toBe(502);
    await dropped.text();
    expect(g.proxy.counters.total('stale')).toBe(0);
  });

  it('the same bytes pass on, with a grace but nothing kept, as without a grace', async () => {
    const outage = { lead: ['start', 'ping', 'block'] as const, fail: 'overloaded_error' };
    const expected = [
      /^event: message_start\ndata: \{"type":"message_start".*\}\n\n/,
      /event: ping\ndata: \{"type":"ping"\}\n\n/,
      /event: content_block_start\ndata: .*"text":""\}\}\n\n/,
      /event: error\ndata: .*overloaded_error.*\n\n$/,
    ];
    const bodies: string[] = [];
    for (const staleIfErrorSeconds of [GRACE, 0]) {
      const { g } = await gateway({ staleIfErrorSeconds });
      g.fake.outage = outage;
      const res = await askMessages(g, 'never asked before', true);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-strata-cache')).toBe('miss');
      bodies.push(await res.text());
      await gw?.close();
      gw = undefined;
    }
    expect(bodies[0]).toBe(bodies[1]);
    for (const part of expected) expect(bodies[0]).toMatch(part);
  });

  it('concurrent identical requests while the upstream is down: every one is answered stale', async () => {
    const { clock, g } = await gateway();
    const stored = await answerOf(await ask(g, 'shared question'));
    at(clock, TTL + 1);
    g.fake.outage = { status: 502, delayMs: 100 };
    const calls = g.fake.count();
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => ask(g, 'shared question', { stream: i % 2 === 1 })),
    );
    for (const [i, res] of answers.entries()) {
      expect(res.headers.get('x-strata-cache')).toBe('stale');
      expect(i % 2 === 1 ? streamedText(await res.text()) : await answerOf(res)).toBe(stored);
    }
    // They followed one upstream call.
    expect(g.fake.count() - calls).toBe(1);
  });

  it('a follower that bounds staleness itself is not handed the stale answer its leader took', async () => {
    const { clock, g } = await gateway();
    await (await ask(g, 'bounded')).text();
    at(clock, TTL + 100);
    g.fake.outage = { status: 503, delayMs: 200 };
    const calls = g.fake.count();
    const leader = ask(g, 'bounded');
    await new Promise((r) => setTimeout(r, 50)); // the follower arrives while the leader's call runs
    const follower = ask(g, 'bounded', { headers: { 'cache-control': 'stale-if-error=10' } });
    expect((await leader).headers.get('x-strata-cache')).toBe('stale');
    const own = await follower;
    expect(own.status).toBe(503);
    expect(g.fake.count() - calls).toBe(2);
  });

  it('per request: Cache-Control stale-if-error bounds how stale (0: never) and sets the grace of what it stores', async () => {
    const { clock, g } = await gateway({ staleIfErrorSeconds: 0 });
    await (await ask(g, 'kept', { headers: { 'cache-control': 'stale-if-error=300' } })).text();
    await (await ask(g, 'not kept')).text();
    at(clock, TTL + 100);
    g.fake.outage = { status: 503 };
    expect((await ask(g, 'kept')).headers.get('x-strata-cache')).toBe('stale');
    expect((await ask(g, 'not kept')).status).toBe(503);
    const none = await ask(g, 'kept', { headers: { 'cache-control': 'stale-if-error=0' } });
    expect(none.status).toBe(503);
    const tooStale = await ask(g, 'kept', { headers: { 'cache-control': 'stale-if-error=50' } });
    expect(tooStale.status).toBe(503);
    const enough = await ask(g, 'kept', { headers: { 'cache-control': 'stale-if-error=150' } });
    expect(enough.headers.get('x-strata-cache')).toBe('stale');
    // no-cache skips the cache, its stale answers too.
    expect((await ask(g, 'kept', { headers: { 'cache-control': 'no-cache' } })).status).toBe(503);
    const bad = await ask(g, 'kept', { headers: { 'cache-control': 'stale-if-error=soon' } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/stale-if-error/);
  });
  it('per-tenant keys: a caller is answered stale from its own sealed entry; another caller gets the error', async () => {
    const clock = new ManualClock(START);
    gw = await startGateway({
      clock,
      tiers: [{ type: 'sqlite', path: ':memory:' }],
      config: { defaultTtlSeconds: TTL, staleIfErrorSeconds: GRACE },
      proxy: { tenant: 'credential', encryption: 'per-tenant' },
    });
    const g = gw;
    const first = await ask(g, 'what is our refund policy?');
    expect(first.headers.get('x-strata-cache')).toBe('miss');
    const stored = await answerOf(first);
    at(clock, TTL + 1);
    g.fake.outage = { status: 503 };
    const stale = await ask(g, 'what is our refund policy?');
    expect(stale.headers.get('x-strata-cache')).toBe('stale');
    expect(await answerOf(stale)).toBe(stored);
    const other = await ask(g, 'what is our refund policy?', {
      headers: { authorization: 'Bearer sk-proj-another-caller-0002' },
    });
    expect(other.status).toBe(503);
    expect(other.headers.get('x-strata-cache')).not.toBe('stale');
  });
});
