/**
 * The semantic tier on chat-shaped traffic: a long system prompt, a history, tools or retrieved
 * documents, then a short question. The context must be identical and only the question similar:
 * no wrong hit when two requests share the context but ask different things, none when they ask
 * the same thing in different contexts, and paraphrases of the question still hit. Both paths
 * (LangChain's BaseCache, which sees a flattened prompt, and withCache, which sees messages), both
 * embedders. The pairs are written for this test.
 */
import { AIMessage, type BaseMessage, HumanMessage, SystemMessage } from '@langchain/core/messages';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { onnxModel } from '../../../test/support/services.js';
import type { StrataCache } from '../../langchain/cache.js';
import { createCache } from '../../langchain/create.js';
import { withCache } from '../../langchain/with-cache.js';

const SUPPORT = new SystemMessage(
  'You are the support assistant of Acme Cloud, a hosting company. Answer in at most three sentences, ' +
    'cite the documentation page you rely on, never promise refunds or credits yourself, and hand the ' +
    'customer over to a human agent when they mention legal action, data loss or a security incident. ' +
    'Be friendly and precise; if you do not know, say so and link to https://status.acme.example.',
);
const FRENCH = new SystemMessage(`${SUPPORT.content} Always answer in French.`);
const LEGAL_ZH = new SystemMessage(
  '你是一家云服务公司的客服助手。请用简体中文回答，不超过三句话，引用文档页面，不要自行承诺退款。遇到法律、数据丢失或安全事件时转交人工客服。',
);
const HISTORY: BaseMessage[] = [
  new HumanMessage('Hi, I am on the Pro plan and my deploys started failing this morning.'),
  new AIMessage('Sorry to hear that! Could you share the error message from the deploy log?'),
  new HumanMessage('It says "connection refused" when the build step reaches our database.'),
  new AIMessage('That usually means your database firewall blocks our build servers. See docs/network.'),
];
const OTHER_HISTORY: BaseMessage[] = [
  new HumanMessage('Hello, I want to understand my invoice for March.'),
  new AIMessage('Of course. Which line of the invoice is unclear?'),
];
const DOC_A =
  'Refund policy (Pro plan): annual subscriptions can be refunded pro rata within 30 days of renewal; monthly plans are not refundable.';
const DOC_B =
  'Refund policy (Starter plan): no refunds are given; unused months are converted to account credit on request.';
const rag = (doc: string, question: string) => new HumanMessage(`Context:\n${doc}\n\nQuestion: ${question}`);

type Conversation = BaseMessage[];
const ask = (context: BaseMessage[], question: string): Conversation => [
  ...context,
  new HumanMessage(question),
];

/** [stored, asked]: the asked request must not be answered with the stored one's answer. */
const MUST_MISS: Array<[string, Conversation, Conversation]> = [
  [
    'same context, another question',
    ask([SUPPORT, ...HISTORY], 'How do I add my IP to the allow list?'),
    ask([SUPPORT, ...HISTORY], 'Can I get a refund for last month?'),
  ],
  [
    'same context, another plan',
    ask([SUPPORT], 'What is the price of the Pro plan?'),
    ask([SUPPORT], 'What is the price of the Enterprise plan?'),
  ],
  [
    'same context, the opposite outcome',
    ask([SUPPORT, ...HISTORY], 'no, that did not work'),
    ask([SUPPORT, ...HISTORY], 'thanks, that worked!'),
  ],
  [
    'Chinese, same context, another question',
    ask([LEGAL_ZH], '如何重置我的密码？'),
    ask([LEGAL_ZH], '如何删除我的账户？'),
  ],
  [
    'same question, another system prompt',
    ask([SUPPORT], 'How do I rotate my API key?'),
    ask([FRENCH], 'How do I rotate my API key?'),
  ],
  [
    'same question, another history',
    ask([SUPPORT, ...HISTORY], 'What should I check first?'),
    ask([SUPPORT, ...OTHER_HISTORY], 'What should I check first?'),
  ],
  [
    'same question, no history vs a history',
    ask([SUPPORT], 'What should I check first?'),
    ask([SUPPORT, ...HISTORY], 'What should I check first?'),
  ],
  [
    'Chinese, same question, another system prompt',
    ask([LEGAL_ZH], '如何重置我的密码？'),
    ask([SUPPORT], '如何重置我的密码？'),
  ],
];

/** Paraphrases of the final question in the same context: these should still be answered. */
const SHOULD_HIT: Array<[string, Conversation, Conversation]> = [
  [
    'case and punctuation',
    ask([SUPPORT, ...HISTORY], 'How do I add my IP to the allow list?'),
    ask([SUPPORT, ...HISTORY], 'how do I add my IP to the allow list'),
  ],
  [
    'inflection',
    ask([SUPPORT], 'Where can I download my invoices?'),
    ask([SUPPORT], 'Where can I download my invoice?'),
  ],
];
const CHINESE_PARAPHRASE: [Conversation, Conversation] = [
  ask([LEGAL_ZH], '如何重置我的密码？'),
  ask([LEGAL_ZH], '如何重置我的密码'),
];

type Path = 'BaseCache' | 'withCache';
type EmbedderName = 'lexical' | 'onnx' | 'onnx-multilingual';
const MODELS = { onnx: onnxModel(), 'onnx-multilingual': onnxModel('multilingual-e5-small') };
/** Whether the embedder reads Chinese (all-MiniLM-L6-v2 does not, and so never matches it). */
const readsChinese = (e: EmbedderName) => e !== 'onnx';
const caches: StrataCache[] = [];
afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()));
});

async function semanticCache(embeddings: EmbedderName, queryPattern?: string): Promise<StrataCache> {
  const cache = await createCache(
    {
      tiers: [
        {
          type: 'semantic',
          embeddings: embeddings === 'lexical' ? 'lexical' : 'onnx',
          path: ':memory:',
          ...(embeddings === 'lexical' ? {} : { modelPath: MODELS[embeddings] }),
          ...(queryPattern ? { queryPattern } : {}),
        },
      ],
    },
    { logger: { warn: () => {} } },
  );
  caches.push(cache);
  return cache;
}

/** Stores `stored` through the path, then asks `asked`: whether the stored answer came back. */
async function answeredFromCache(cache: StrataCache, path: Path, stored: Conversation, asked: Conversation) {
  const inner = new FakeListChatModel({ responses: ['STORED ANSWER', 'FRESH ANSWER'] });
  if (path === 'BaseCache') {
    cache.attach(inner); // FakeListChatModel's llmKey names no model: the plain option alone refuses it
    await inner.invoke(stored);
    return (await inner.invoke(asked)).content === 'STORED ANSWER';
  }
  const model = withCache(inner, cache);
  await model.invoke(stored);
  return (await model.invoke(asked)).content === 'STORED ANSWER';
}

describe.each(['lexical', 'onnx', 'onnx-multilingual'] as const)(
  'semantic tier on chat traffic, %s embedder',
  (embeddings) => {
    describe.each(['BaseCache', 'withCache'] as const)('through %s', (path) => {
      it.each(MUST_MISS)('never a wrong hit: %s', async (_, stored, asked) => {
        const cache = await semanticCache(embeddings);
        expect(await answeredFromCache(cache, path, stored, asked)).toBe(false);
      });

      it.each(SHOULD_HIT)('a paraphrase of the question still hits: %s', async (_, stored, asked) => {
        const cache = await semanticCache(embeddings);
        expect(await answeredFromCache(cache, path, stored, asked)).toBe(true);
      });

      it(`a Chinese paraphrase ${readsChinese(embeddings) ? 'hits' : 'is not matched: the model cannot read Chinese'}`, async () => {
        const cache = await semanticCache(embeddings);
        expect(await answeredFromCache(cache, path, ...CHINESE_PARAPHRASE)).toBe(readsChinese(embeddings));
      });

      it('retrieved documents are context when the config names the question (queryPattern)', async () => {
        const cache = await semanticCache(embeddings, 'Question: (.*)$');
        const question = 'What is the refund window?';
        expect(
          await answeredFromCache(
            cache,
            path,
            [SUPPORT, rag(DOC_A, question)],
            [SUPPORT, rag(DOC_B, question)],
          ),
        ).toBe(false);
        const again = await semanticCache(embeddings, 'Question: (.*)$');
        expect(
          await answeredFromCache(
            again,
            path,
            [SUPPORT, rag(DOC_A, question)],
            [SUPPORT, rag(DOC_A, 'what is the refund window')],
          ),
        ).toBe(true);
      });

      it('a question longer than the tier matches is never matched by similarity, and says why', async () => {
        const cache = await semanticCache(embeddings);
        const long = (tail: string) => `${'Here is my whole deploy log, line by line. '.repeat(60)}${tail}`;
        expect(
          await answeredFromCache(
            cache,
            path,
            ask([SUPPORT], long('Why?')),
            ask([SUPPORT], long('Why not?')),
          ),
        ).toBe(false);
        const stats = (await cache.stats()).tiers[0]!.store!;
        expect((stats.notMatched as Record<string, number>)['query-too-long']).toBeGreaterThan(0);
      });
    });
  },
);

describe('found by a new user (issue 14 trial)', () => {
  // ~1.2 kB of pasted code: past maxQueryChars (500), so not matched by similarity at all.
  const CODE = 'function parse(input) {\n  return input.split(",").map(Number);\n}\n'.repeat(20);

  it.each(['BaseCache', 'withCache'] as const)(
    'pasted material with two different instructions is not matched (%s, lexical)',
    async (path) => {
      const cache = await semanticCache('lexical');
      const stored = ask([SUPPORT], `${CODE}\nConvert this to TypeScript.`);
      const asked = ask([SUPPORT], `${CODE}\nWrite unit tests for this.`);
      expect(await answeredFromCache(cache, path, stored, asked)).toBe(false);
    },
  );

  it.each(['BaseCache', 'withCache'] as const)(
    'queryPattern reads only the final message: an earlier answer stays context (%s)',
    async (path) => {
      const cache = await semanticCache('lexical', 'Question: (.*)$');
      const turn = (q: string) => new HumanMessage(`Documents:\n${DOC_A}\n\nQuestion: ${q}`);
      const conv = (answer: string) => [
        SUPPORT,
        turn('Where does my refund go?'),
        new AIMessage(answer),
        turn('How long does that take?'),
      ];
      expect(
        await answeredFromCache(
          cache,
          path,
          conv('It goes back to your credit card.'),
          conv('You get store credit in your account.'),
        ),
      ).toBe(false);
    },
  );

  it('an English-only model does not match Thai, Arabic or emoji by similarity', async () => {
    const cache = await semanticCache('onnx');
    for (const [a, b] of [
      ['ฉันจะยกเลิกคำสั่งซื้อได้อย่างไร', 'ฉันจะติดตามคำสั่งซื้อได้อย่างไร'],
      ['كيف ألغي طلبي؟', 'كيف أتتبع طلبي؟'],
    ]) {
      expect(await answeredFromCache(cache, 'withCache', ask([SUPPORT], a!), ask([SUPPORT], b!))).toBe(false);
    }
    const stats = (await cache.stats()).tiers[0]!.store!;
    expect((stats.notMatched as Record<string, number>)['unseen-by-embedder']).toBeGreaterThan(0);
  });
});
