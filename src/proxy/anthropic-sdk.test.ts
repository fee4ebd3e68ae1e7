/** The gateway driven by `@anthropic-ai/sdk` with its base URL pointed at it. */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { everythingStored, startGateway, type TestGateway } from '../../test/support/gateway.js';
import { hitObject } from './hit-usage.js';

const SYSTEM = [
  {
    type: 'text' as const,
    text: `你是一名客服助理。请用简洁的中文回答，并引用文档。${'参考资料：服务在三个区域运行，支持自动故障转移。'.repeat(30)}`,
    cache_control: { type: 'ephemeral' as const },
  },
];
const TOOLS: Anthropic.Tool[] = [
  {
    name: 'get_weather',
    description: 'Current weather for a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
];

let gw: TestGateway;
const client = (apiKey = 'sk-ant-api03-test-alpha', headers: Record<string, string> = {}) =>
  new Anthropic({ apiKey, baseURL: gw.url, maxRetries: 0, defaultHeaders: headers });

/** A message as the API sent it: the SDK's stream helper adds `parsed_output` (and undefined fields) of its own. */
function plain(message: object): Record<string, unknown> {
  const { parsed_output: _, ...rest } = JSON.parse(JSON.stringify(message)) as Record<string, unknown>;
  return rest;
}

/** The same message as a hit shows it: usage zeroed, the stored usage under `strata` (hit-usage.ts). */
const asHit = (message: object) => hitObject(plain(message));

function ask(question: string) {
  return {
    model: 'claude-sonnet-4-5',
    max_tokens: 256,
    system: SYSTEM,
    messages: [{ role: 'user' as const, content: question }],
  };
}

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw?.close();
});

describe('messages through the Anthropic SDK', () => {
  it('serves a repeat from the cache, invoked and streamed, with no upstream call', async () => {
    const request = ask('如何重置我的密码？');
    const first = await client().messages.create(request).withResponse();
    expect(first.response.headers.get('x-strata-cache')).toBe('miss');
    const calls = gw.fake.count();
    const again = await client().messages.create(request).withResponse();
    expect(again.response.headers.get('x-strata-cache')).toBe('hit');
    expect(again.data).toEqual(asHit(first.data));
    const streamed = await client().messages.stream(request).finalMessage();
    expect(plain(streamed)).toEqual(asHit(first.data));
    expect(gw.fake.count()).toBe(calls);
  });

  it('stores a streamed answer for a JSON request, and a tool use both ways', async () => {
    const request = ask('Where is my invoice?');
    let text = '';
    const stream = client()
      .messages.stream(request)
      .on('text', (t) => {
        text += t;
      });
    const live = await stream.finalMessage();
    const calls = gw.fake.count();
    const json = await client().messages.create(request);
    expect(plain(json)).toEqual(asHit(live));
    expect(text).toBe((json.content[0] as Anthropic.TextBlock).text);

    const toolRequest = { ...ask('Weather in Paris? [tool]'), tools: TOOLS };
    const toolLive = await client().messages.stream(toolRequest).finalMessage();
    expect(toolLive.content[0]).toMatchObject({
      type: 'tool_use',
      input: { city: 'Paris', unit: 'celsius' },
    });
    const toolReplay = await client().messages.stream(toolRequest).finalMessage();
    expect(plain(toolReplay)).toEqual(asHit(toolLive));
    expect(gw.fake.count()).toBe(calls + 1);
  });

  it('keys on content, not on prompt-caching markers, and on anthropic-beta', async () => {
    const request = ask('Marker question');
    await client().messages.create(request);
    const calls = gw.fake.count();
    const unmarked = { ...request, system: [{ type: 'text' as const, text: SYSTEM[0]!.text }] };
    await client().messages.create(unmarked);
    expect(gw.fake.count()).toBe(calls);
    await client(undefined, { 'anthropic-beta': 'some-beta-2025' }).messages.create(request);
    expect(gw.fake.count()).toBe(calls + 1);
  });

  it('never shares between two API keys and stores neither', async () => {
    const request = ask('Tenant question');
    await client('sk-ant-api03-tenant-A-secret').messages.create(request);
    const calls = gw.fake.count();
    await client('sk-ant-api03-tenant-B-secret').messages.create(request);
    expect(gw.fake.count()).toBe(calls + 1);
    expect(gw.fake.calls.at(-1)!.headers['x-api-key']).toBe('sk-ant-api03-tenant-B-secret');
    const stored = await everythingStored(gw.proxy);
    expect(stored).not.toContain('tenant-A-secret');
    expect(stored).not.toContain('tenant-B-secret');
  });

  it("passes errors through in Anthropic's shape and stores none", async () => {
    const request = ask('Overloaded? [fail:529]');
    const error = await client()
      .messages.create(request)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    const calls = gw.fake.count();
    await client()
      .messages.create(request)
      .catch(() => {});
    expect(gw.fake.count()).toBe(calls + 1);
    // An error event inside a stream reaches the SDK, which throws; nothing is stored.
    const midStream = ask('Overloaded mid-stream [error-event]');
    await expect(client().messages.stream(midStream).finalMessage()).rejects.toThrow(/Overloaded/);
    await client()
      .messages.stream(midStream)
      .finalMessage()
      .catch(() => {});
    expect(gw.fake.count()).toBe(calls + 3);
  });

  it("only-if-cached is a 504 in Anthropic's error shape on a miss", async () => {
    const request = ask('Not cached yet');
    const calls = gw.fake.count();
    const error = await client(undefined, { 'cache-control': 'only-if-cached' })
      .messages.create(request)
      .catch((e: unknown) => e);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(504);
    expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { type: 'api_error' },
    });
    expect(gw.fake.count()).toBe(calls);
  });

  it('50 identical concurrent streams make one upstream call, all complete', async () => {
    gw.fake.pieceDelayMs = 40;
    try {
      const request = ask('五十个并发请求');
      const calls = gw.fake.count();
      const finals = await Promise.all(
        Array.from({ length: 50 }, () => client().messages.stream(request).finalMessage()),
      );
      expect(gw.fake.count()).toBe(calls + 1);
      const content = (m: Anthropic.Message) => ({ ...plain(m), usage: undefined, strata: undefined });
      for (const m of finals) expect(content(m)).toEqual(content(finals[0]!));
      // One upstream call, billed once: only the leader's usage counts tokens, the others' are hits.
      expect(finals.filter((m) => m.usage.output_tokens > 0)).toHaveLength(1);
      expect((finals[0]!.content[0] as Anthropic.TextBlock).text).toContain('五十个并发请求');
    } finally {
      gw.fake.pieceDelayMs = 5;
    }
  });
});
