import { describe, expect, it } from 'vitest';
import { assertNamespace, deriveKey, hashKey, isSecretFieldName, sanitizeLlmKey } from './key.js';

// What ChatOpenAI (1.x) puts into llmKey: its identifying params, including clientConfig.
const openAiKey = (apiKey: string, extra = '') =>
  [
    `_model:"base_chat_model"`,
    `_type:"openai"`,
    `apiKey:${JSON.stringify(apiKey)}`,
    `configuration:${JSON.stringify({ baseURL: 'https://api.example.test/v1', defaultHeaders: { Authorization: `Bearer ${apiKey}`, 'X-Team': 'search' } })}`,
    `dangerouslyAllowBrowser:true`,
    `maxRetries:2`,
    `max_tokens:256`,
    `model:"gpt-4o-mini"`,
    `organization:"org-1"`,
    `temperature:0.2${extra}`,
  ].join(',');

describe('secret field names', () => {
  it.each([
    'apiKey',
    'openAIApiKey',
    'api_key',
    'x-api-key',
    'Authorization',
    'accessToken',
    'token',
    'client_secret',
    'password',
    'azureOpenAIApiKey',
    'sessionToken',
    'credentials',
  ])('%s is a secret', (name) => expect(isSecretFieldName(name)).toBe(true));
  it.each([
    'maxTokens',
    'max_tokens',
    'tokenizer',
    'model',
    'temperature',
    'keyPrefix',
    'organization',
    'stop',
    'topK',
    'key',
  ])('%s is not a secret', (name) => expect(isSecretFieldName(name)).toBe(false));
});

describe('sanitizeLlmKey', () => {
  it('removes API keys at any depth and keeps every other parameter', () => {
    const clean = sanitizeLlmKey(openAiKey('sk-proj-abcdefghijklmnopqrstuvwx0123456789'));
    expect(clean).not.toContain('sk-proj');
    expect(clean).not.toContain('Bearer');
    expect(clean).toContain('max_tokens:256');
    expect(clean).toContain('temperature:0.2');
    expect(clean).toContain('"X-Team":"search"');
    expect(clean).toContain('model:"gpt-4o-mini"');
  });

  it('gives a rotated key the same cache key, and a changed parameter a different one', () => {
    const a = deriveKey('ns', openAiKey('sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaa'), 'hi');
    const b = deriveKey('ns', openAiKey('sk-bbbbbbbbbbbbbbbbbbbbbbbbbbbb'), 'hi');
    const c = deriveKey('ns', `${openAiKey('sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaa')}5`, 'hi');
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
  });

  it('redacts a key that is not in LangChain format', () => {
    expect(sanitizeLlmKey('{"model":"m","apiKey":"sk-zzz"}')).toBe('{"model":"m"}');
    expect(sanitizeLlmKey('garbage "apiKey":"sk-zzz" {')).toBe('garbage "apiKey":"[redacted]" {');
    expect(sanitizeLlmKey('plain-model-name')).toBe('plain-model-name');
  });

  it('parses values with commas, quotes and nesting', () => {
    const key = `a:"x,y:\\"z\\"",b:{"c":[1,{"d":"e,f"}],"password":"p"},c:null`;
    expect(sanitizeLlmKey(key)).toBe(`a:"x,y:\\"z\\"",b:{"c":[1,{"d":"e,f"}]},c:null`);
  });
});

describe('deriveKey', () => {
  it('separates namespace, llm string and prompt unambiguously', () => {
    expect(hashKey('ab', 'c', 'd')).not.toBe(hashKey('a', 'bc', 'd'));
    expect(hashKey('a', 'b', 'cd')).not.toBe(hashKey('a', 'bc', 'd'));
    expect(deriveKey('t1', 'm', 'p').hash).not.toBe(deriveKey('t2', 'm', 'p').hash);
    expect(deriveKey('t1', 'm', 'p').hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts any non-empty namespace up to 256 characters', () => {
    for (const ok of ['tenant-42', '用户.a@b', "'; DROP TABLE x; --", 'a:b*{c}[d]\\e\u0000f 🚀']) {
      expect(assertNamespace(ok)).toBe(ok);
    }
    for (const bad of ['', 'x'.repeat(257)]) expect(() => assertNamespace(bad)).toThrow(/namespace/);
  });
});
