/**
 * Issue 26, point 2 ("replace, never delete on a guess"): every example of the issue, with the
 * real LangChain classes, their llmKeys built by LangChain itself on the plain `cache` path (a
 * cache that answers every lookup, so no model is called), then the digest key's rules.
 */
import { ChatCohere } from '@langchain/cohere';
import { BaseCache } from '@langchain/core/caches';
import { AIMessage } from '@langchain/core/messages';
import type { Generation } from '@langchain/core/outputs';
import { ChatGoogleGenerativeAI } from '@langchain/google-genai';
import { ChatOllama } from '@langchain/ollama';
import { ChatOpenAI } from '@langchain/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StrataConfigError } from '../errors.js';
import { createCache } from '../langchain/create.js';
import { deriveKey, sanitizeLlmKey } from './key.js';
import {
  digestKeyGeneration,
  isSecretFieldName,
  onEphemeralDigest,
  secretMarker,
  setDigestKey,
  useDigestKeyFromEnv,
} from './secrets.js';

const KEY_A = 'regression-digest-key-A-0123456789abcdef';
const KEY_B = 'regression-digest-key-B-0123456789abcdef';
beforeAll(() => setDigestKey(KEY_A));
afterAll(() => setDigestKey(KEY_A));

/** Answers every lookup with `text` (so no model is called) and records the llmKeys LangChain built. */
class RecordingCache extends BaseCache {
  readonly llmKeys: string[] = [];
  constructor(private readonly text: string) {
    super();
  }
  async lookup(_prompt: string, llmKey: string): Promise<Generation[]> {
    this.llmKeys.push(llmKey);
    return [{ text: this.text, message: new AIMessage(this.text) } as Generation];
  }
  async update(): Promise<void> {}
}

/** The llmKey LangChain builds for one call of `model` (through whatever `run` wraps it in). */
async function llmKeyOf<M extends { cache?: unknown }>(
  model: M,
  run: (model: M) => Promise<unknown>,
  answer = '{"user":"a","password":"b","token":"c"}',
): Promise<string> {
  const cache = new RecordingCache(answer);
  model.cache = cache;
  await run(model);
  expect(cache.llmKeys).toHaveLength(1);
  return cache.llmKeys[0]!;
}

const hashOf = (llmKey: string) => deriveKey('ns', llmKey, 'Fill in the sign-up form').hash;
const form = (withPassword: boolean) =>
  z.object({ user: z.string(), ...(withPassword ? { password: z.string(), token: z.string() } : {}) });
const formSchema = (withPassword: boolean) => ({
  type: 'object',
  properties: {
    user: { type: 'string' },
    ...(withPassword
      ? { password: { type: 'string' }, apiKey: { type: 'string' }, secret: { type: 'string' } }
      : {}),
  },
  required: withPassword ? ['user', 'password'] : ['user'],
});

describe('a schema with a password field is not the schema without one (issue 26)', () => {
  it("ChatGoogleGenerativeAI.withStructuredOutput: Google's responseSchema", async () => {
    const key = (withPassword: boolean) =>
      llmKeyOf(
        new ChatGoogleGenerativeAI({ model: 'gemini-2.0-flash', apiKey: 'AIzaSyCANARY0123456789' }),
        (m) => m.withStructuredOutput(form(withPassword)).invoke('sign up'),
      );
    const [withPassword, without] = [await key(true), await key(false)];
    expect(withPassword).toContain('responseSchema:');
    expect(hashOf(withPassword)).not.toBe(hashOf(without));
    expect(sanitizeLlmKey(withPassword)).toContain('"password":{"type":"string"}');
    expect(sanitizeLlmKey(withPassword)).toContain('"token":{"type":"string"}');
  });

  it("ChatOllama.withStructuredOutput and a JSON schema as Ollama's format", async () => {
    const structured = (withPassword: boolean) =>
      llmKeyOf(new ChatOllama({ model: 'llama3.1' }), (m) =>
        m.withStructuredOutput(form(withPassword)).invoke('sign up'),
      );
    expect(hashOf(await structured(true))).not.toBe(hashOf(await structured(false)));
    const format = (withPassword: boolean) =>
      llmKeyOf(new ChatOllama({ model: 'llama3.1' }), (m) =>
        m.invoke('sign up', { format: formSchema(withPassword) }),
      );
    const [withPassword, without] = [await format(true), await format(false)];
    expect(withPassword).toContain('format:');
    expect(hashOf(withPassword)).not.toBe(hashOf(without));
    expect(sanitizeLlmKey(withPassword)).toContain(JSON.stringify(formSchema(true)));
  });

  it("ChatOpenAI with vLLM's modelKwargs.extra_body.guided_json", async () => {
    const key = (withPassword: boolean) =>
      llmKeyOf(
        new ChatOpenAI({
          model: 'Qwen/Qwen2.5-7B-Instruct',
          apiKey: 'sk-proj-CANARY0123456789abcdef',
          configuration: { baseURL: 'http://vllm.internal:8000/v1' },
          modelKwargs: {
            extra_body: { guided_json: formSchema(withPassword), response_mime_type: 'application/json' },
          },
        }),
        (m) => m.invoke('sign up'),
      );
    const [withPassword, without] = [await key(true), await key(false)];
    expect(withPassword).toContain('extra_body:');
    expect(hashOf(withPassword)).not.toBe(hashOf(without));
    expect(sanitizeLlmKey(withPassword)).toContain(JSON.stringify(formSchema(true)));
    expect(sanitizeLlmKey(withPassword)).not.toContain('CANARY');
  });
});

describe('secret-looking content is digested, never replaced by one fixed marker (issue 26)', () => {
  it('ChatCohere: a preamble reading "token: alpha123" is not one reading "token: beta456"', async () => {
    const key = (preamble: string) =>
      llmKeyOf(
        new ChatCohere({ model: 'command-r', apiKey: 'CANARY' }),
        (m) => m.invoke('hi', { preamble }),
        'ok',
      );
    const [alpha, beta] = [await key('token: alpha123'), await key('token: beta456')];
    expect(alpha).toContain('preamble:"token: alpha123"');
    expect(hashOf(alpha)).not.toBe(hashOf(beta));
    for (const [llmKey, secret] of [
      [alpha, 'alpha123'],
      [beta, 'beta456'],
    ] as const) {
      const clean = sanitizeLlmKey(llmKey);
      expect(clean).not.toContain(secret);
      expect(clean).toMatch(/preamble:"token: \[secret:hmac:[0-9a-f]{32}\]"/);
    }
  });
});

describe('credential names and shapes the deny-list missed (issue 26)', () => {
  const CANARY = 'CNRY7Zq4';
  const model = (configuration: Record<string, unknown>, modelKwargs: Record<string, unknown> = {}) =>
    llmKeyOf(
      new ChatOpenAI({
        model: 'gpt-4o-mini',
        apiKey: 'sk-proj-CANARY0123456789abcdef',
        configuration,
        modelKwargs,
      }),
      (m) => m.invoke('hi'),
      'ok',
    );

  it.each([
    ['the header X-Passcode', { defaultHeaders: { 'X-Passcode': CANARY } }],
    ['the header X-Upstream-PAT', { defaultHeaders: { 'X-Upstream-PAT': CANARY } }],
    ['the header x-ai-gateway-psk', { defaultHeaders: { 'x-ai-gateway-psk': CANARY } }],
    ['the header X-OTP', { defaultHeaders: { 'X-OTP': CANARY } }],
    ['the query parameter psk', { defaultQuery: { psk: CANARY } }],
    ['the query parameter pat', { baseURL: `https://gw.example.test/v1?pat=${CANARY}&api-version=preview` }],
    [
      'a Slack-style webhook token in a URL path',
      { baseURL: `https://hooks.example.com/services/T000/B000/${CANARY}XXXXXXXXXXXXXXXX` },
    ],
    [
      'a Telegram bot token in a URL path',
      { baseURL: `https://api.telegram.org/bot123456:ABC-DEF${CANARY}ghIkl/` },
    ],
    [
      'a key after /key/ in a URL path',
      { baseURL: `https://gw.example.test/key/${CANARY}0123456789abcdef0123456789abcdef/v1` },
    ],
  ])('%s (ChatOpenAI configuration)', async (_, configuration) => {
    const llmKey = await model(configuration);
    expect(llmKey).toContain(CANARY);
    expect(sanitizeLlmKey(llmKey)).not.toContain(CANARY);
    // A token found by its shape gets the plain SHA-256 marker, one found by its name the HMAC.
    expect(sanitizeLlmKey(llmKey)).toMatch(/\[secret:(hmac|sha256):[0-9a-f]{32}\]/);
    // Digested, not dropped: another value is another key.
    const other = await model(JSON.parse(JSON.stringify(configuration).replaceAll(CANARY, 'CNRY8Wx5')));
    expect(hashOf(other)).not.toBe(hashOf(llmKey));
  });

  it.each(['ak', 'sk', 'pass', 'client_cert_key'])('the field %s (ChatOpenAI modelKwargs)', async (field) => {
    const llmKey = await model({}, { [field]: CANARY });
    expect(llmKey).toContain(`${field}:"${CANARY}"`);
    expect(sanitizeLlmKey(llmKey)).toMatch(new RegExp(`${field}:"\\[secret:hmac:[0-9a-f]{32}\\]"`));
    expect(hashOf(await model({}, { [field]: 'CNRY8Wx5' }))).not.toBe(hashOf(llmKey));
  });

  it.each([
    'X-Passcode',
    'X-Upstream-PAT',
    'x-ai-gateway-psk',
    'X-OTP',
    'psk',
    'pat',
    'ak',
    'sk',
    'pass',
    'client_cert_key',
    'github_pat',
    'qianfanAK',
    'tencentSecretId',
  ])('%s is named like a secret', (name) => expect(isSecretFieldName(name)).toBe(true));

  it.each([
    'maxTokens',
    'topK',
    'keepAlive',
    'passages',
    'pass_through',
    'promptCacheKey',
    'cacheKey',
    'top_k',
  ])('%s is not', (name) => expect(isSecretFieldName(name)).toBe(false));

  it('the provider credential itself is left out, so a rotated key keeps the answers', async () => {
    const key = (apiKey: string, auth: string) =>
      llmKeyOf(
        new ChatOpenAI({
          model: 'gpt-4o-mini',
          apiKey,
          configuration: { defaultHeaders: { Authorization: `Bearer ${auth}`, 'X-Team': 'search' } },
        }),
        (m) => m.invoke('hi'),
        'ok',
      );
    const [a, b] = [
      await key('sk-proj-AAAA0123456789abcdef', 'aaa'),
      await key('sk-proj-BBBB0123456789abcdef', 'bbb'),
    ];
    expect(hashOf(a)).toBe(hashOf(b));
    expect(sanitizeLlmKey(a)).not.toMatch(/apiKey|Authorization|sk-proj/);
    expect(sanitizeLlmKey(a)).toContain('"X-Team":"search"');
  });
});

describe('call options that are not the request stay out of the key (issue 26)', () => {
  const chat = (configuration: Record<string, unknown> = {}) =>
    new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-proj-CANARY0123456789abcdef', configuration });

  it('an AbortSignal or a timeout in the call options (LangChain serializes signal:{})', async () => {
    const plain = await llmKeyOf(chat(), (m) => m.invoke('hi'), 'ok');
    const signal = await llmKeyOf(
      chat(),
      (m) => m.invoke('hi', { signal: new AbortController().signal }),
      'ok',
    );
    const timeout = await llmKeyOf(chat(), (m) => m.invoke('hi', { timeout: 30_000 }), 'ok');
    expect(signal).toContain('signal:{}');
    expect(hashOf(signal)).toBe(hashOf(plain));
    expect(hashOf(timeout)).toBe(hashOf(plain));
  });

  it("a timeout in the OpenAI client's configuration (timeout:30000)", async () => {
    const plain = await llmKeyOf(chat(), (m) => m.invoke('hi'), 'ok');
    const timeout = await llmKeyOf(chat({ timeout: 30_000 }), (m) => m.invoke('hi'), 'ok');
    expect(timeout).toContain('timeout:30000');
    expect(hashOf(timeout)).toBe(hashOf(plain));
  });

  it('RunnableConfig fields that reach a direct call of the serializer', () => {
    const base = 'model:"m",temperature:0';
    for (const extra of [
      'signal:{}',
      'timeout:5',
      'callbacks:[]',
      'runName:"x"',
      'runId:"1"',
      'configurable:{"a":1}',
      'recursionLimit:25',
      'maxConcurrency:2',
      'promptIndex:3',
    ]) {
      expect(sanitizeLlmKey(`${base},${extra}`)).toBe(base);
    }
  });
});

describe('JSON Schemas are recognized by their shape, wherever they sit', () => {
  it.each([
    ['$schema', { $schema: 'https://json-schema.org/draft/2020-12/schema', properties: { password: {} } }],
    ['type and properties', { type: 'object', properties: { password: { type: 'string', 'x-order': 1 } } }],
    ["Google's dialect", { type: 'OBJECT', properties: { token: { type: 'STRING', nullable: true } } }],
    ['anyOf', { anyOf: [{ type: 'string', description: 'password: hunter2' }, { type: 'null' }] }],
    ['items', { type: 'array', items: { type: 'object', properties: { secret: { type: 'string' } } } }],
  ])('kept verbatim: %s', (_, schema) => {
    const llmKey = `model:"m",modelKwargs:${JSON.stringify({ extra_body: { guided_json: schema } })}`;
    expect(sanitizeLlmKey(llmKey)).toBe(llmKey);
  });

  it('a configuration map that happens to be called properties is not one', () => {
    expect(sanitizeLlmKey('x:{"properties":{"db":{"password":"hunter2"}}}')).not.toContain('hunter2');
  });
});

describe("Strata's own parts of a key", () => {
  it('the model identity digest (sha256:<hex>) is kept as it is', () => {
    const key = `_model:"base_chat_model",_type:"groq",_strata_identity:"sha256:${'0123456789abcdef'.repeat(4)}"`;
    expect(sanitizeLlmKey(key)).toBe(key);
  });
});

describe('the digest key', () => {
  it('one secret, one marker; two secrets, two markers; another key, other markers', () => {
    setDigestKey(KEY_A);
    expect(secretMarker('1234')).toBe(secretMarker('1234'));
    expect(secretMarker('1234')).not.toBe(secretMarker('1235'));
    expect(secretMarker('1234')).not.toBe(secretMarker('1234', 'number'));
    expect(secretMarker('x\uD83C')).not.toBe(secretMarker('x\uD83D'));
    const a = secretMarker('1234');
    setDigestKey(KEY_B);
    expect(secretMarker('1234')).not.toBe(a);
    setDigestKey(KEY_A);
    expect(secretMarker('1234')).toBe(a);
  });

  it('the memo of sanitized keys follows the key', () => {
    setDigestKey(KEY_A);
    const llmKey = 'model:"m",defaultHeaders:{"X-OTP":"123456"}';
    const underA = deriveKey('ns', llmKey, 'p');
    const generation = digestKeyGeneration();
    setDigestKey(KEY_B);
    expect(digestKeyGeneration()).not.toBe(generation);
    const underB = deriveKey('ns', llmKey, 'p');
    expect(underB.llmString).not.toBe(underA.llmString);
    expect(underB.hash).not.toBe(underA.hash);
    setDigestKey(KEY_A);
    expect(deriveKey('ns', llmKey, 'p')).toEqual(underA);
  });

  it('is read from the variable digestKeyEnv names; a short one is a config error naming the field', async () => {
    setDigestKey(KEY_A);
    const a = secretMarker('1234');
    expect(useDigestKeyFromEnv('MY_DIGEST_KEY', { MY_DIGEST_KEY: KEY_B })).toBeUndefined();
    expect(secretMarker('1234')).not.toBe(a);
    expect(useDigestKeyFromEnv('MY_DIGEST_KEY', { MY_DIGEST_KEY: 'short' })).toMatch(
      /MY_DIGEST_KEY.*at least 32/,
    );
    // Unset: the process keeps the key it has.
    expect(useDigestKeyFromEnv('MY_DIGEST_KEY', {})).toBeUndefined();
    setDigestKey(KEY_B);
    const b = secretMarker('1234');
    await (await createCache({ tiers: [{ type: 'memory' }] }, { env: {} })).close();
    expect(secretMarker('1234')).toBe(b);

    await expect(
      createCache({ tiers: [{ type: 'memory' }] }, { env: { STRATA_DIGEST_KEY: 'too short' } }),
    ).rejects.toThrow(StrataConfigError);
    await expect(
      createCache(
        { digestKeyEnv: 'TEAM_KEY', tiers: [{ type: 'memory' }] },
        { env: { TEAM_KEY: 'x'.repeat(31) } },
      ),
    ).rejects.toThrow(/digestKeyEnv: .*TEAM_KEY holds 31 bytes/);
    await expect(createCache({ digestKeyEnv: 'not a name', tiers: [{ type: 'memory' }] })).rejects.toThrow(
      /digestKeyEnv/,
    );
    const cache = await createCache(
      { digestKeyEnv: 'TEAM_KEY', tiers: [{ type: 'memory' }] },
      { env: { TEAM_KEY: KEY_A } },
    );
    expect(secretMarker('1234')).toBe(a);
    await cache.close();
  });

  it('without a key: one warning, the first time a value is digested, through the logger and a warning event', async () => {
    setDigestKey(undefined);
    const logged: string[] = [];
    const events: unknown[] = [];
    const cache = await createCache(
      { tiers: [{ type: 'memory' }] },
      { logger: { warn: (m) => logged.push(m) }, env: {} },
    );
    cache.on('warning', (e) => events.push(e));
    await cache.lookup('p', 'model:"gpt-4o-mini",temperature:0');
    expect(logged).toEqual([]);
    await cache.lookup('p', 'model:"gpt-4o-mini",defaultHeaders:{"X-OTP":"123456"}');
    await cache.lookup('p', 'model:"gpt-4o-mini",defaultHeaders:{"X-OTP":"654321"}');
    const warnings = logged.filter((m) => m.includes('STRATA_DIGEST_KEY'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not be shared across processes or restarts/);
    expect(events).toContainEqual({ code: 'digest-key-ephemeral', message: warnings[0] });
    expect(logged.join('\n')).not.toMatch(/123456|654321/);
    await cache.close();
  });

  it('a warning given before any cache listened reaches the first one', () => {
    setDigestKey(undefined);
    sanitizeLlmKey('model:"m",password:"hunter2"');
    const heard: string[] = [];
    const stop = onEphemeralDigest((m) => heard.push(m));
    expect(heard).toHaveLength(1);
    sanitizeLlmKey('model:"m",password:"hunter3"');
    expect(heard).toHaveLength(1);
    stop();
    setDigestKey(KEY_A);
  });
});

describe('tokens recognised by their shape keep their entries across processes', () => {
  it('an account id in a base URL or a random-looking parameter digests the same under any digest key; a named secret does not', () => {
    const shaped =
      'baseURL:"https://gateway.ai.cloudflare.com/v1/0a1b2c3d4e5f60718293a4b5c6d7e8f9/my-gateway/openai",promptCacheKey:"9f8e7d6c5b4a39281706f5e4d3c2b1a0"';
    const named = 'defaultHeaders:{"X-Passcode":"1234"}';
    setDigestKey(KEY_A);
    const [shapedA, namedA] = [sanitizeLlmKey(shaped), sanitizeLlmKey(named)];
    setDigestKey(KEY_B);
    const [shapedB, namedB] = [sanitizeLlmKey(shaped), sanitizeLlmKey(named)];
    setDigestKey(KEY_A);
    expect(shapedA).toContain('[secret:sha256:');
    expect(shapedA).not.toContain('0a1b2c3d4e5f60718293a4b5c6d7e8f9');
    expect(shapedB).toBe(shapedA);
    // A short named secret could be guessed from a plain hash: it stays keyed.
    expect(namedA).toContain('[secret:hmac:');
    expect(namedB).not.toBe(namedA);
  });
});
