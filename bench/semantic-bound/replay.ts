/**
 * Replays one stream through a real SemanticTier, as the engine would call it behind an exact
 * tier: a question asked before is an exact repeat (the exact tier answers it; counted apart,
 * never a semantic hit); any other request is looked up, and a miss calls the fake model and
 * stores its answer in the real entry envelope.
 */
import { performance } from 'node:perf_hooks';
import { ManualClock } from '../../src/core/clock.js';
import { encodeEntry, newEntry, textGeneration } from '../../src/core/entry.js';
import { deriveKey } from '../../src/core/key.js';
import type { NamespaceBound } from '../../src/core/tier.js';
import type { Embedder } from '../../src/tiers/semantic/embedders/embedder.js';
import { ALL_GUARDS } from '../../src/tiers/semantic/guards/guards.js';
import { SemanticTier, type SemanticTierOptions } from '../../src/tiers/semantic/index.js';
import { FakeModel } from './answers.js';
import type { Stream } from './streams.js';

export const NAMESPACE = 'bench';
/** A LangChain chat model's llmKey: the entries hold AI messages, as withCache stores them. */
const LLM_KEY = '_model:"base_chat_model",_type:"openai",model:"gpt-4o-mini",temperature:0';

export interface Counts {
  lookups: number;
  hits: number;
  wrong: number;
}

export interface ReplayResult extends Counts {
  requests: number;
  exact: number;
  /** Model calls: every semantic lookup that did not hit. */
  calls: number;
  /** The same counts over the first and the second half of the stream. */
  halves: [Counts, Counts];
  bound: NamespaceBound | undefined;
  seconds: number;
}

/** What a configuration adds to the tier's options, given the run's model (its oracle). */
export type Configure = (model: FakeModel) => Partial<SemanticTierOptions>;

export async function replay(
  stream: Stream,
  embedder: Embedder,
  threshold: number,
  seed: number,
  configure?: Configure,
): Promise<ReplayResult> {
  const started = performance.now();
  const clock = new ManualClock();
  const model = new FakeModel(stream.clusters, seed);
  const tier = new SemanticTier({
    embedder,
    threshold,
    path: ':memory:',
    maxEntries: 1_000_000,
    guards: ALL_GUARDS,
    candidates: 5,
    clock,
    ...configure?.(model),
  });
  const asked = new Set<string>();
  const clusterOfEntry = new Map<string, number>();
  const total: Counts = { lookups: 0, hits: 0, wrong: 0 };
  const halves: [Counts, Counts] = [
    { lookups: 0, hits: 0, wrong: 0 },
    { lookups: 0, hits: 0, wrong: 0 },
  ];
  let exact = 0;
  try {
    for (const [i, request] of stream.requests.entries()) {
      clock.advance(1_000);
      if (asked.has(request.question)) {
        exact++;
        continue;
      }
      asked.add(request.question);
      const half = halves[i < stream.requests.length / 2 ? 0 : 1];
      total.lookups++;
      half.lookups++;
      const key = deriveKey(NAMESPACE, LLM_KEY, request.question);
      const match = await tier.get(key);
      if (match) {
        total.hits++;
        half.hits++;
        if (clusterOfEntry.get(match.hash) !== request.cluster) {
          total.wrong++;
          half.wrong++;
        }
        await tier.settle();
        continue;
      }
      const answer = model.answer(request.cluster);
      const entry = newEntry(key, [textGeneration(answer, key.llmString)], {
        now: clock.now(),
        storePrompt: true,
      });
      await tier.set(key, encodeEntry(entry));
      clusterOfEntry.set(key.hash, request.cluster);
      await tier.settle();
    }
    const stats = await tier.stats();
    return {
      ...total,
      requests: stream.requests.length,
      exact,
      calls: model.calls,
      halves,
      bound: stats.bound?.[NAMESPACE],
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await tier.close();
  }
}
