/** What decides a gateway request's key, its cache controls, and the errors bad config and input get. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/schema.js';
import { StrataConfigError } from '../errors.js';
import { splitRequest } from '../tiers/semantic/question/request.js';
import { controlsOf } from './controls.js';
import { anthropicMessages } from './endpoints/anthropic-messages.js';
import { openaiChat } from './endpoints/openai-chat.js';
import { openaiResponses } from './endpoints/openai-responses.js';
import { createProxy } from './index.js';

const base = {
  model: 'gpt-4o-mini',
  temperature: 0.2,
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What is "SSE"?\nAnswer in one line.' },
  ],
};

describe('the key of a chat request', () => {
  const prompt = (body: Record<string, unknown>) => openaiChat.canonical(body, {}).prompt;

  it('ignores transport and attribution fields and key order', () => {
    const same = [
      { ...base, stream: true, stream_options: { include_usage: true } },
      { ...base, user: 'u-123', metadata: { run: '7' }, store: true, service_tier: 'auto' },
      { messages: base.messages, temperature: 0.2, model: 'gpt-4o-mini' },
      { ...base, messages: [base.messages[0], { content: base.messages[1]!.content, role: 'user' }] },
    ];
    for (const body of same) expect(prompt(body)).toBe(prompt(base));
  });

  it('changes with anything that can change the answer', () => {
    const different = [
      { ...base, temperature: 0.3 },
      { ...base, model: 'gpt-4o' },
      { ...base, tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] },
      { ...base, response_format: { type: 'json_object' } },
      { ...base, n: 2 },
      { ...base, messages: [...base.messages, { role: 'assistant', content: 'x' }] },
      {
        ...base,
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:a' } }] }],
      },
    ];
    for (const body of different) expect(prompt(body)).not.toBe(prompt(base));
  });

  it('keeps `__proto__` keys as data in the key', () => {
    const withProto = (json: string) => openaiChat.canonical(JSON.parse(json), {}).prompt;
    const plain = withProto('{"model":"m","messages":[{"role":"user","content":"q"}]}');
    const a = withProto('{"model":"m","messages":[{"role":"user","content":"q","__proto__":{"x":1}}]}');
    const b = withProto('{"model":"m","messages":[{"role":"user","content":"q","__proto__":{"x":2}}]}');
    const top = withProto(
      '{"model":"m","__proto__":{"temperature":2},"messages":[{"role":"user","content":"q"}]}',
    );
    expect(new Set([plain, a, b, top]).size).toBe(4);
  });

  it('offers the final user text as the question, which the semantic split finds in the prompt', () => {
    const c = openaiChat.canonical(base, {});
    expect(c.question).toBe('What is "SSE"?\nAnswer in one line.');
    const split = splitRequest(c.prompt, c.question);
    expect(split.query).toBe(c.question);
    expect(split.context).toContain('Be brief.');
    expect(split.context).not.toContain('SSE');
    const toolTurn = {
      ...base,
      messages: [...base.messages, { role: 'tool', content: '42', tool_call_id: 'c' }],
    };
    expect(openaiChat.canonical(toolTurn, {}).question).toBe('');
  });

  it('refuses a body without a model or messages, naming the field', () => {
    expect(() => openaiChat.canonical({ messages: [] }, {})).toThrow(/model/);
    expect(() => openaiChat.canonical({ model: 'm' }, {})).toThrow(/messages/);
  });

  it('for Anthropic, ignores cache_control markers and keys on anthropic-beta', () => {
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      system: [{ type: 'text', text: 'S', cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Q', cache_control: { type: 'ephemeral' } }] },
      ],
    };
    const unmarked = {
      ...body,
      system: [{ type: 'text', text: 'S' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Q' }] }],
    };
    expect(anthropicMessages.canonical(body, {}).prompt).toBe(
      anthropicMessages.canonical(unmarked, {}).prompt,
    );
    expect(anthropicMessages.canonical(body, { 'anthropic-beta': 'x' }).prompt).not.toBe(
      anthropicMessages.canonical(body, {}).prompt,
    );
  });

  it('never caches a Responses request tied to a server-side conversation or run in the background', () => {
    expect(
      openaiResponses.canonical({ model: 'm', input: 'q', conversation: 'conv_1' }, {}).bypass,
    ).toBeDefined();
    expect(openaiResponses.canonical({ model: 'm', input: 'q', background: true }, {}).bypass).toBeDefined();
    expect(
      openaiResponses.canonical({ model: 'm', input: 'q', previous_response_id: 'resp_1' }, {}).bypass,
    ).toBeUndefined();
  });
});

describe('cache controls', () => {
  it('reads Cache-Control request directives', () => {
    expect(controlsOf('no-cache, max-age=60', undefined)).toMatchObject({ noCache: true, maxAgeSeconds: 60 });
    expect(controlsOf('only-if-cached', undefined)).toMatchObject({ onlyIfCached: true, noStore: false });
    expect(controlsOf('No-Store', undefined)).toMatchObject({ noStore: true });
    expect(() => controlsOf('max-age=soon', undefined)).toThrow(/max-age/);
  });

  it("reads LiteLLM's body field and names a bad field", () => {
    expect(controlsOf(undefined, { ttl: 60, 's-maxage': 10, 'no-store': true, namespace: 'team' })).toEqual({
      noCache: false,
      noStore: true,
      onlyIfCached: false,
      ttlSeconds: 60,
      maxAgeSeconds: 10,
      namespace: 'team',
    });
    expect(() => controlsOf(undefined, { ttl: -1 })).toThrow(/cache\.ttl/);
    expect(() => controlsOf(undefined, { 'no-cache': 'yes' })).toThrow(/cache\.no-cache/);
    expect(() => controlsOf(undefined, 'on')).toThrow(/cache: must be an object/);
  });
});

describe('proxy config', () => {
  const tiers = [{ type: 'memory' as const }];
  const issues = (proxy: unknown) => {
    try {
      parseConfig({ tiers, proxy });
      return [];
    } catch (error) {
      return (error as StrataConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    }
  };

  it('names the field of every mistake', () => {
    expect(issues({ upstreams: [] })).toEqual(['proxy.upstreams: needs at least one upstream']);
    expect(issues({ upstreams: [{ url: 'api.openai.com', api: 'openai' }] })[0]).toMatch(
      /^proxy\.upstreams\[0\]\.url/,
    );
    expect(issues({ upstreams: [{ url: 'https://x', api: 'gemini' }] })[0]).toMatch(
      /^proxy\.upstreams\[0\]\.api/,
    );
    expect(issues({ upstreams: [{ url: 'https://x', api: 'openai' }], prot: 1 })[0]).toMatch(/prot/);
    expect(issues({ upstreams: [{ url: 'https://x', api: 'openai' }], host: '0.0.0.0' })[0]).toMatch(
      /^proxy\.host: refusing to listen on 0\.0\.0\.0 without clientTokens/,
    );
    expect(
      issues({
        upstreams: [{ url: 'https://x', api: 'openai' }],
        host: '0.0.0.0',
        clientTokens: ['short'],
      })[0],
    ).toMatch(/^proxy\.clientTokens\[0\]/);
  });

  it('says which environment variable a secret was to come from', async () => {
    const config = {
      tiers,
      proxy: {
        upstreams: [{ url: 'https://x', api: 'openai' as const, apiKeyEnv: 'STRATA_TEST_NO_SUCH_KEY' }],
      },
    };
    await expect(createProxy(config, { env: {} })).rejects.toThrow(
      /proxy\.upstreams\[0\]\.apiKeyEnv: environment variable STRATA_TEST_NO_SUCH_KEY is not set/,
    );
    await expect(createProxy({ tiers }, { env: {} })).rejects.toBeInstanceOf(StrataConfigError);
  });
});
