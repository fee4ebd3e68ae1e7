/**
 * The semantic tier behind the gateway, with the library's rules: only the final user question is
 * compared by similarity; the system prompt, history and tools must be identical. So a paraphrase
 * is a hit, and the same follow-up question in another conversation is not (the stale multi-turn
 * answer LiteLLM's semantic cache is documented to replay).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';

let gw: TestGateway;
const client = () => new OpenAI({ apiKey: 'sk-semantic-user', baseURL: `${gw.url}/v1`, maxRetries: 0 });
const SYSTEM = {
  role: 'system' as const,
  content: `You answer questions about the Acme account portal. ${'Be precise. '.repeat(30)}`,
};

beforeAll(async () => {
  gw = await startGateway({
    tiers: [{ type: 'memory' }, { type: 'semantic', embeddings: 'lexical', path: ':memory:' }],
  });
});
afterAll(async () => {
  await gw?.close();
});

describe('semantic matching through the gateway', () => {
  it('answers a paraphrase from the semantic tier and says how similar it was', async () => {
    const ask = (q: string) =>
      client()
        .chat.completions.create({ model: 'gpt-4o-mini', messages: [SYSTEM, { role: 'user', content: q }] })
        .withResponse();
    const first = await ask('How do I reset my account password?');
    const calls = gw.fake.count();
    const paraphrase = await ask('how do i reset my account password');
    expect(gw.fake.count()).toBe(calls);
    expect(paraphrase.response.headers.get('x-strata-cache')).toBe('hit');
    expect(paraphrase.response.headers.get('x-strata-tier')).toBe('semantic');
    expect(Number(paraphrase.response.headers.get('x-strata-similarity'))).toBeGreaterThan(0.8);
    expect(paraphrase.data.choices[0]!.message.content).toBe(first.data.choices[0]!.message.content);
    // A different question in the same context is not matched.
    await ask('How do I delete my account?');
    expect(gw.fake.count()).toBe(calls + 1);
  });

  it('does not replay an answer from another conversation for the same follow-up question', async () => {
    const followUp = (history: OpenAI.Chat.Completions.ChatCompletionMessageParam[]) =>
      client().chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [SYSTEM, ...history, { role: 'user', content: 'And how much does it cost?' }],
      });
    const a = await followUp([
      { role: 'user', content: 'Tell me about the premium plan.' },
      { role: 'assistant', content: 'Premium has SSO.' },
    ]);
    const calls = gw.fake.count();
    const b = await followUp([
      { role: 'user', content: 'Tell me about the storage add-on.' },
      { role: 'assistant', content: 'It adds 1 TB.' },
    ]);
    expect(gw.fake.count()).toBe(calls + 1);
    expect(b.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
  });

  it('never matches across API keys', async () => {
    const q = {
      model: 'gpt-4o-mini',
      messages: [SYSTEM, { role: 'user' as const, content: 'Where do I find my invoices?' }],
    };
    await client().chat.completions.create(q);
    const calls = gw.fake.count();
    const other = new OpenAI({ apiKey: 'sk-someone-else', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    await other.chat.completions.create({
      ...q,
      messages: [SYSTEM, { role: 'user', content: 'where do i find my invoices' }],
    });
    expect(gw.fake.count()).toBe(calls + 1);
  });
});
