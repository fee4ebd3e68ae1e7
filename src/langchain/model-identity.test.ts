/**
 * What the model identity must tell apart beyond the provider test's four dimensions (found by a
 * new user from the packed tarball): schema properties named like LangChain's own fields, deep
 * leaves and long enums, configuration a class reads from the environment or sets after super(),
 * a model wrapped in another, and one instance attached to two views.
 */

import { BaseChatModel, type BaseChatModelParams } from '@langchain/core/language_models/chat_models';
import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';
import { ChatOllama } from '@langchain/ollama';
import { AzureChatOpenAI, ChatOpenAI } from '@langchain/openai';
import { afterEach, describe, expect, it } from 'vitest';
import { StrataConfigError } from '../errors.js';
import type { StrataCache } from './cache.js';
import { createCache } from './create.js';
import { identityPair } from './model-identity.js';
import { withCache } from './with-cache.js';

const caches: StrataCache[] = [];
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});
async function memoryCache(warnings: string[] = []): Promise<StrataCache> {
  const cache = await createCache(
    { tiers: [{ type: 'memory' }] },
    { logger: { warn: (m) => warnings.push(m) } },
  );
  caches.push(cache);
  return cache;
}

const same = (a: object, b: object) => identityPair(a, {}) === identityPair(b, {});
const ollama = (format: Record<string, unknown>) => new ChatOllama({ model: 'llama3.2', format });
const schema = (properties: Record<string, unknown>) => ({ type: 'object', properties, required: ['name'] });

describe('the identity covers the whole configuration', () => {
  it('schema properties named like LangChain fields (metadata, tags, timeout, callbacks) count', () => {
    for (const name of ['metadata', 'tags', 'timeout', 'callbacks', 'cache', 'stream', 'signal']) {
      const a = ollama(schema({ name: { type: 'string' } }));
      const b = ollama(schema({ name: { type: 'string' }, [name]: { type: 'object' } }));
      expect(same(a, b), name).toBe(false);
    }
  });

  it('a leaf deep in a schema, and the last value of a long enum, count', () => {
    let deepA: Record<string, unknown> = { type: 'string' };
    let deepB: Record<string, unknown> = { type: 'number' };
    for (let i = 0; i < 12; i++) {
      deepA = { type: 'object', properties: { x: deepA } };
      deepB = { type: 'object', properties: { x: deepB } };
    }
    expect(same(ollama(deepA), ollama(deepB))).toBe(false);
    const values = Array.from({ length: 400 }, (_, i) => `v${i}`);
    const enumOf = (last: string) => ollama(schema({ name: { type: 'string', enum: [...values, last] } }));
    expect(same(enumOf('a'), enumOf('b'))).toBe(false);
  });

  it('configuration a class reads from the environment counts (Azure deployment)', () => {
    const env = process.env;
    const azure = (deployment: string) => {
      process.env = {
        ...env,
        AZURE_OPENAI_API_DEPLOYMENT_NAME: deployment,
        AZURE_OPENAI_API_INSTANCE_NAME: 'contoso',
      };
      try {
        return new AzureChatOpenAI({ azureOpenAIApiKey: 'k', azureOpenAIApiVersion: '2024-10-21' });
      } finally {
        process.env = env;
      }
    };
    expect(same(azure('gpt-4o'), azure('gpt-35-turbo'))).toBe(false);
    expect(same(azure('gpt-4o'), azure('gpt-4o'))).toBe(true);
  });

  it('fields a subclass sets after super() count; state that changes as it runs does not', async () => {
    class Custom extends BaseChatModel {
      temperature: number;
      calls = 0;
      constructor({ temperature, ...rest }: BaseChatModelParams & { temperature: number }) {
        super(rest);
        this.temperature = temperature;
      }
      _llmType() {
        return 'custom';
      }
      async _generate(messages: BaseMessage[]): Promise<ChatResult> {
        this.calls++;
        const text = `t=${this.temperature}: ${String(messages.at(-1)?.content)}`;
        return { generations: [{ text, message: new AIMessage(text) }] };
      }
    }
    expect(same(new Custom({ temperature: 0 }), new Custom({ temperature: 1 }))).toBe(false);
    const cache = await memoryCache();
    const model = cache.attach(new Custom({ temperature: 0 }));
    await model.invoke('twice');
    expect((await model.invoke('twice')).content).toBe('t=0: twice');
    expect(model.calls).toBe(1);
  });

  it('a model wrapped in another is identified as a model', () => {
    class Wrapper extends BaseChatModel {
      constructor(readonly fields: BaseChatModelParams & { llm: BaseChatModel }) {
        super(fields);
      }
      _llmType() {
        return 'wrapper';
      }
      async _generate(): Promise<ChatResult> {
        return { generations: [] };
      }
    }
    const wrap = (model: string) => new Wrapper({ llm: new ChatOllama({ model }) });
    expect(same(wrap('llama3.2'), wrap('llama3.1'))).toBe(false);
  });

  it('a configuration too deep to read is not cached: the model answers, said once', async () => {
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 500; i++) deep = { type: 'object', properties: { x: deep } };
    const warnings: string[] = [];
    const cache = await memoryCache(warnings);
    let calls = 0;
    const inner = ollama(deep);
    inner._generate = async () => {
      calls++;
      return { generations: [{ text: 'fresh', message: new AIMessage('fresh') }] };
    };
    const model = withCache(inner, cache);
    await model.invoke('q');
    await model.invoke('q');
    expect(calls).toBe(2);
    expect((await cache.stats()).unidentified).toBe(2);
    expect(warnings.filter((w) => w.includes('nested more than'))).toHaveLength(1);
  });
});

describe('attach', () => {
  it('one model instance cannot be attached to two views; attaching it again to the same one is a no-op', async () => {
    const cache = await memoryCache();
    const model = ollama(schema({ name: { type: 'string' } }));
    const acme = cache.withNamespace('tenant-acme');
    expect(acme.attach(model)).toBe(model);
    expect(acme.attach(model)).toBe(model);
    expect(() => cache.withNamespace('tenant-globex').attach(model)).toThrow(StrataConfigError);
    expect(() => cache.withNamespace('tenant-globex').attach(model)).toThrow(/already attached.*tenant-acme/);
  });
});

describe('what LangChain itself cannot serialize', () => {
  it('withCache answers uncached when the configuration holds a cycle or a BigInt, said once', async () => {
    const warnings: string[] = [];
    const cache = await memoryCache(warnings);
    const cyclic: Record<string, unknown> = { baseURL: 'http://x.test' };
    cyclic.self = cyclic;
    for (const fields of [{ configuration: cyclic }, { modelKwargs: { b: 1n } }]) {
      const inner = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-test', ...(fields as object) });
      let calls = 0;
      inner._generate = async () => {
        calls++;
        return { generations: [{ text: 'fresh', message: new AIMessage('fresh') }] };
      };
      const model = withCache(inner, cache);
      expect((await model.invoke('q')).content).toBe('fresh');
      expect((await model.invoke('q')).content).toBe('fresh');
      expect(calls).toBe(2);
    }
    expect(warnings.filter((w) => w.includes('cannot serialize'))).toHaveLength(1);
  });

  it('lookup never throws on what is not a string; delete and markBad name the argument', async () => {
    const cache = await memoryCache();
    const proxy = new Proxy(
      {},
      {
        get: () => {
          throw new Error('proxy');
        },
      },
    );
    for (const llmKey of [Symbol('k'), proxy, undefined, 5])
      await expect(cache.lookup('p', llmKey as never)).resolves.toBeNull();
    expect(() => cache.delete(undefined as never, 'llm')).toThrow(/delete\.prompt: must be a string/);
    expect(() => cache.markBad('p', 5 as never)).toThrow(/markBad\.llmKey: must be a string/);
  });
});
