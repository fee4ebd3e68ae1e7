/**
 * No secret reaches a tier, whatever the model's options: real provider classes, configured the
 * way users configure them, with a canary secret in every option that can hold one (API key,
 * custom fetch, default headers and query, base URL with user info and key, AWS credentials).
 * invoke, stream and batch run through plain `cache` and through withCache over memory + SQLite
 * + Redis; then every byte the tiers hold (SQLite file, WAL and SHM, every Redis key and bus
 * message), the export, the logs, the events and /metrics are searched: zero canary bytes.
 * Only the HTTP endpoints are fake (a `fetch` or client that answers like the provider).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatAnthropic } from '@langchain/anthropic';
import { ChatBedrockConverse } from '@langchain/aws';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { BaseLLM } from '@langchain/core/language_models/llms';
import { ChatMistralAI } from '@langchain/mistralai';
import { AzureChatOpenAI, ChatOpenAI, OpenAI } from '@langchain/openai';
import { HTTPClient } from '@mistralai/mistralai/lib/http.js';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { service } from '../../test/support/services.js';
import { createMonitor } from '../monitor/index.js';
import type { StrataCache } from './cache.js';
import { createCache } from './create.js';
import { withCache } from './with-cache.js';

const CANARY = `CNRY${randomUUID().replaceAll('-', '')}`;
const redisUrl = service('redis').STRATA_TEST_REDIS_URL!;
const keyPrefix = `strata-secrets-${randomUUID().slice(0, 8)}`;

// ---------------------------------------------------------------------------------------------
// Fake provider endpoints: they answer like the real APIs, with text derived from the request.
// ---------------------------------------------------------------------------------------------

const answerFor = (body: unknown) => `答复 ${JSON.stringify(body).length % 997} ✅ for this request`;
const json = (x: unknown) =>
  new Response(JSON.stringify(x), { headers: { 'content-type': 'application/json' } });
const sse = (events: Array<{ event?: string; data: unknown }>) =>
  new Response(
    events
      .map(
        (e) =>
          `${e.event ? `event: ${e.event}\n` : ''}data: ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}\n\n`,
      )
      .join(''),
    { headers: { 'content-type': 'text/event-stream' } },
  );
const bodyOf = (init?: RequestInit) => JSON.parse(String(init?.body ?? '{}')) as Record<string, unknown>;

/** A chat completion (or its SSE stream) as OpenAI-compatible APIs (OpenAI, Azure, Mistral) answer it. */
function openAiChat(body: Record<string, unknown>): Response {
  const text = answerFor(body);
  const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
  if (body.stream)
    return sse([
      ...text.split(' ').map((w, i) => ({
        data: {
          id: 'c',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'm',
          choices: [
            { index: 0, delta: { role: 'assistant', content: i ? ` ${w}` : w }, finish_reason: null },
          ],
        },
      })),
      {
        data: {
          id: 'c',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'm',
          choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
          usage,
        },
      },
      { data: '[DONE]' },
    ]);
  return json({
    id: 'c',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage,
  });
}

const openAiFetch = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const body = bodyOf(init);
  const text = answerFor(body);
  const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
  if (String(url).includes('/completions') && !String(url).includes('/chat/')) {
    if (body.stream)
      return sse([
        ...text.split(' ').map((w, i) => ({
          data: {
            id: 'c',
            object: 'text_completion',
            created: 1,
            model: 'm',
            choices: [{ text: i ? ` ${w}` : w, index: 0, finish_reason: null, logprobs: null }],
          },
        })),
        { data: '[DONE]' },
      ]);
    return json({
      id: 'c',
      object: 'text_completion',
      created: 1,
      model: 'm',
      choices: [{ text, index: 0, finish_reason: 'stop', logprobs: null }],
      usage,
    });
  }
  return openAiChat(body);
};

const anthropicFetch = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const body = bodyOf(init);
  const text = answerFor(body);
  const message = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude',
    content: [],
    stop_reason: null,
    usage: { input_tokens: 11, output_tokens: 0 },
  };
  if (body.stream)
    return sse([
      { event: 'message_start', data: { type: 'message_start', message } },
      {
        event: 'content_block_start',
        data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      },
      ...text.split(' ').map((w, i) => ({
        event: 'content_block_delta',
        data: {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'text_delta', text: i ? ` ${w}` : w },
        },
      })),
      { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
      {
        event: 'message_delta',
        data: { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } },
      },
      { event: 'message_stop', data: { type: 'message_stop' } },
    ]);
  return json({
    ...message,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    usage: { input_tokens: 11, output_tokens: 7 },
  });
};

const mistralFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const request = input instanceof Request ? input : new Request(input, init);
  const body = JSON.parse((await request.text()) || '{}') as Record<string, unknown>;
  return openAiChat(body);
};

/** A Bedrock runtime client that answers Converse and ConverseStream like the service. */
const bedrockClient = {
  config: {},
  async send(command: { constructor: { name: string }; input: unknown }) {
    const text = answerFor(command.input);
    if (command.constructor.name === 'ConverseStreamCommand') {
      return {
        stream: (async function* () {
          yield { messageStart: { role: 'assistant' } };
          for (const [i, w] of text.split(' ').entries())
            yield { contentBlockDelta: { contentBlockIndex: 0, delta: { text: i ? ` ${w}` : w } } };
          yield { contentBlockStop: { contentBlockIndex: 0 } };
          yield { messageStop: { stopReason: 'end_turn' } };
          yield { metadata: { usage: { inputTokens: 11, outputTokens: 7, totalTokens: 18 } } };
        })(),
      };
    }
    return {
      output: { message: { role: 'assistant', content: [{ text }] } },
      stopReason: 'end_turn',
      usage: { inputTokens: 11, outputTokens: 7, totalTokens: 18 },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Models as users configure them, a canary in every option that can hold a secret
// ---------------------------------------------------------------------------------------------

const headers = {
  'x-portkey-virtual-key': CANARY,
  Authorization: `Bearer ${CANARY}`,
  'x-functions-key': CANARY,
  // Names the deny-list once missed (issue 26): digested now.
  'X-Passcode': CANARY,
  'X-Upstream-PAT': CANARY,
  'x-ai-gateway-psk': CANARY,
  'X-OTP': CANARY,
  'X-Team': 'support',
};
const chatModels = (): Array<[string, BaseChatModel]> => [
  [
    'ChatOpenAI',
    new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey: `sk-proj-${CANARY}`,
      temperature: 0.2,
      configuration: {
        fetch: openAiFetch,
        baseURL: `https://svc:${CANARY}@gateway.example.test/v1?key=${CANARY}`,
        defaultHeaders: headers,
        defaultQuery: { 'api-key': CANARY, psk: CANARY, pat: CANARY },
      },
      modelKwargs: { extra_body: { ak: CANARY, sk: CANARY, pass: CANARY, client_cert_key: CANARY } },
    }),
  ],
  [
    'AzureChatOpenAI',
    new AzureChatOpenAI({
      azureOpenAIApiKey: CANARY,
      azureOpenAIApiInstanceName: 'contoso',
      azureOpenAIApiDeploymentName: 'gpt4o',
      azureOpenAIApiVersion: '2024-10-21',
      configuration: { fetch: openAiFetch, defaultHeaders: headers },
    }),
  ],
  [
    'ChatAnthropic',
    new ChatAnthropic({
      model: 'claude-3-5-haiku-latest',
      apiKey: `sk-ant-api03-${CANARY}`,
      clientOptions: { fetch: anthropicFetch, defaultHeaders: headers },
    }),
  ],
  [
    'ChatBedrockConverse',
    new ChatBedrockConverse({
      model: 'anthropic.claude-3-haiku-20240307-v1:0',
      region: 'eu-west-1',
      credentials: { accessKeyId: `AKIA${CANARY}`, secretAccessKey: CANARY, sessionToken: CANARY },
      client: bedrockClient as never,
    }),
  ],
  [
    'ChatMistralAI',
    new ChatMistralAI({
      model: 'mistral-small-latest',
      apiKey: CANARY,
      serverURL: `https://mistral.example.test?key=${CANARY}`,
      httpClient: new HTTPClient({ fetcher: mistralFetch }),
    }),
  ],
];
const llm = (): BaseLLM =>
  new OpenAI({
    model: 'gpt-3.5-turbo-instruct',
    apiKey: `sk-${CANARY}`,
    configuration: {
      fetch: openAiFetch,
      defaultHeaders: headers,
      baseURL: `https://u:${CANARY}@gw.example.test/key/${CANARY}/v1`,
    },
  });

// Production-shaped input: a long system prompt, a history, Chinese, a prompt cut mid-emoji.
const SYSTEM = `You are the support assistant of Acme Cloud. ${'Answer briefly and cite the docs. '.repeat(12)}`;
const conversations = (tag: string) => [
  [
    ['system', SYSTEM],
    ['human', 'How do I rotate my API key?'],
    ['ai', 'Open Settings → API keys.'],
    ['human', `And the old one, ${tag}?`],
  ] as Array<[string, string]>,
  [['human', `如何重置密码？${tag}`]] as Array<[string, string]>,
  [['human', `Summarize: 🚀🚀 launch notes ${tag} \uD83D`]] as Array<[string, string]>,
];

// ---------------------------------------------------------------------------------------------

let dir: string;
let cache: StrataCache;
const logs: string[] = [];
const events: string[] = [];
const busMessages: string[] = [];
let subscriber: ReturnType<typeof createClient>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-secrets-'));
  subscriber = createClient({ url: redisUrl });
  await subscriber.connect();
  await subscriber.pSubscribe(`${keyPrefix}*`, (message) => busMessages.push(message));
  cache = await createCache(
    {
      tiers: [
        { type: 'memory' },
        { type: 'sqlite', path: join(dir, 'cache.db') },
        { type: 'redis', url: redisUrl, keyPrefix },
      ],
    },
    { logger: { warn: (m) => logs.push(m) } },
  );
  for (const event of ['hit', 'miss', 'set', 'error', 'backfill', 'evict', 'breaker', 'warning'] as const) {
    cache.on(event, (e: unknown) => events.push(JSON.stringify(e)));
  }
});

afterAll(async () => {
  await cache?.close();
  await subscriber?.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe('no secret reaches a tier, with real provider classes', () => {
  it.each(chatModels().map(([name]) => name))(
    '%s: invoke, batch and stream, plain cache and withCache',
    async (name) => {
      const [, plain] = chatModels().find(([n]) => n === name)!;
      plain.cache = cache;
      const [, inner] = chatModels().find(([n]) => n === name)!;
      const wrapped = withCache(inner, cache);
      for (const model of [plain, wrapped]) {
        const [first, ...rest] = conversations(`${name} ${model === plain ? 'plain' : 'wrapped'}`);
        const a = await model.invoke(first!);
        expect(String(a.content)).toContain('答复');
        expect((await model.invoke(first!)).content).toEqual(a.content); // the hit
        const batch = await model.batch(rest);
        expect(batch).toHaveLength(2);
        let streamed = '';
        for await (const chunk of await model.stream(first!)) streamed += String(chunk.content);
        expect(streamed).toContain('答复');
      }
      const stats = await cache.stats();
      expect(stats.hits).toBeGreaterThan(0);
    },
  );

  it('OpenAI (a text-completion LLM): invoke, batch and stream, plain cache and withCache', async () => {
    const plain = llm();
    plain.cache = cache;
    for (const model of [plain, withCache(llm(), cache)]) {
      const prompt = `Write a haiku about caches ${model === plain ? 'plain' : 'wrapped'}`;
      const a = await model.invoke(prompt);
      expect(await model.invoke(prompt)).toBe(a);
      expect(await model.batch([`${prompt} 1`, `${prompt} 2`])).toHaveLength(2);
      let streamed = '';
      for await (const chunk of await model.stream(prompt)) streamed += chunk;
      expect(streamed).toContain('答复');
    }
  });

  it('zero canary bytes in SQLite (file, WAL, SHM), Redis (every key and bus message), the export, logs, events and /metrics', async () => {
    const monitor = createMonitor(cache);
    const metrics = await monitor.metrics();
    monitor.close();
    expect(metrics).toContain('strata_');

    const files = ['cache.db', 'cache.db-wal', 'cache.db-shm'].map((f) => join(dir, f)).filter(existsSync);
    expect(files.length).toBeGreaterThan(0);
    const fileBytes = Buffer.concat(files.map((f) => readFileSync(f)));
    expect(fileBytes.length).toBeGreaterThan(0);

    const client = createClient({ url: redisUrl });
    await client.connect();
    const redisValues: string[] = [];
    let redisKeys = 0;
    for await (const keys of client.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 500 })) {
      for (const key of keys) {
        redisKeys++;
        redisValues.push(key);
        const type = await client.type(key);
        if (type === 'string') redisValues.push((await client.get(key)) ?? '');
        else if (type === 'set') redisValues.push(...(await client.sMembers(key)));
      }
    }
    await client.quit();
    expect(redisKeys).toBeGreaterThan(10);

    const exported: string[] = [];
    for (const name of cache.strata.tierNames) {
      for await (const entry of cache.strata.tier(name)!.entries()) exported.push(entry.payload);
    }
    expect(exported.length).toBeGreaterThan(30);
    // What the tiers hold is what the models were configured with, minus the secrets.
    expect(exported.some((p) => p.includes('"X-Team\\":\\"support\\"') || p.includes('X-Team'))).toBe(true);

    const haystacks: Array<[string, Buffer | string]> = [
      ['sqlite files', fileBytes],
      ['redis', redisValues.join('\n')],
      ['bus', busMessages.join('\n')],
      ['export', exported.join('\n')],
      ['logs', logs.join('\n')],
      ['events', events.join('\n')],
      ['metrics', metrics],
    ];
    for (const [where, bytes] of haystacks) {
      const text = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
      expect({
        where,
        leaks: text.includes(CANARY) || text.includes(Buffer.from(CANARY, 'utf16le')),
      }).toEqual({ where, leaks: false });
    }
  });
});
