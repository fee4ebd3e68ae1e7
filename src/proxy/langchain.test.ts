/** LangChain's ChatOpenAI with its base URL pointed at the gateway: a non-LangChain cache in front of LangChain. */
import { HumanMessage, SystemMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { ChatOpenAI } from '@langchain/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';

let gw: TestGateway;
const model = (apiKey = 'sk-langchain-user-1', defaultHeaders: Record<string, string> = {}) =>
  new ChatOpenAI({
    model: 'gpt-4o-mini',
    temperature: 0,
    apiKey,
    maxRetries: 0,
    configuration: { baseURL: `${gw.url}/v1`, defaultHeaders },
  });

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw?.close();
});

describe('ChatOpenAI through the gateway', () => {
  it('serves invoke and stream repeats from the cache', async () => {
    const messages = [
      new SystemMessage('You are a terse assistant for a bookshop.'),
      new HumanMessage('Do you ship to Canada?'),
    ];
    const first = await model().invoke(messages);
    const calls = gw.fake.count();
    const second = await model().invoke(messages);
    expect(second.content).toBe(first.content);
    let streamed = '';
    for await (const chunk of await model().stream(messages)) streamed += chunk.content;
    expect(streamed).toBe(first.content);
    expect(gw.fake.count()).toBe(calls);
  });

  it('returns cached tool calls to a model with bound tools', async () => {
    const weather = tool(async ({ city }) => `sunny in ${city}`, {
      name: 'get_weather',
      description: 'Current weather',
      schema: z.object({ city: z.string(), unit: z.string().optional() }),
    });
    const bound = model().bindTools([weather]);
    const first = await bound.invoke('Weather in Paris? [tool]');
    expect(first.tool_calls?.[0]).toMatchObject({
      name: 'get_weather',
      args: { city: 'Paris', unit: 'celsius' },
    });
    const calls = gw.fake.count();
    const again = await bound.invoke('Weather in Paris? [tool]');
    expect(again.tool_calls).toEqual(first.tool_calls);
    expect(gw.fake.count()).toBe(calls);
  });

  it('a failed call is not stored: the retry reaches the upstream', async () => {
    const calls = gw.fake.count();
    await expect(model().invoke('Fail me [fail:503]')).rejects.toThrow();
    await expect(model().invoke('Fail me [fail:503]')).rejects.toThrow();
    expect(gw.fake.count()).toBe(calls + 2);
  });

  it('two API keys do not share; only-if-cached fails a miss without an upstream call', async () => {
    await model('sk-langchain-user-A').invoke('Which key am I?');
    const calls = gw.fake.count();
    const other = await model('sk-langchain-user-B').invoke('Which key am I?');
    expect(gw.fake.count()).toBe(calls + 1);
    expect(other.content).toMatch(/^Answer #\d+/);
    await expect(
      model(undefined, { 'cache-control': 'only-if-cached' }).invoke('Never asked before'),
    ).rejects.toThrow(/only-if-cached/);
    expect(gw.fake.count()).toBe(calls + 1);
    const cached = await model('sk-langchain-user-A', { 'cache-control': 'only-if-cached' }).invoke(
      'Which key am I?',
    );
    expect(cached.content).not.toBe(other.content);
  });

  it('50 concurrent streams of one prompt make one upstream call; each stream is whole', async () => {
    gw.fake.pieceDelayMs = 40;
    try {
      const calls = gw.fake.count();
      const texts = await Promise.all(
        Array.from({ length: 50 }, async () => {
          let text = '';
          for await (const chunk of await model().stream('Fifty LangChain streams')) text += chunk.content;
          return text;
        }),
      );
      expect(gw.fake.count()).toBe(calls + 1);
      expect(texts[0]).toMatch(/^Answer #\d+ to: Fifty LangChain streams$/);
      for (const t of texts) expect(t).toBe(texts[0]);
    } finally {
      gw.fake.pieceDelayMs = 5;
    }
  });
});
