/**
 * The tier under `maxErrorRate` (δ): a seeded exploration coin, and the default answer judge
 * wrapped so every verdict it gives is checked against the oracle (the fake model knows which
 * cluster each answer it wrote belongs to).
 */
import { mulberry32 } from '../../src/demo/random.js';
import { type AnswerJudge, defaultJudge, verdictOf } from '../../src/tiers/semantic/bound/judge.js';
import type { Embedder } from '../../src/tiers/semantic/embedders/embedder.js';
import { dot } from '../../src/tiers/semantic/vectors/vector.js';
import type { Configure } from './replay.js';

/** The default judge's verdicts, by what the oracle says the pair really was. */
export interface JudgeTally {
  /** The two answers belong to the same cluster: the cached one would have been right. */
  right: { right: number; wrong: number; unsure: number };
  /** Different clusters: the cached answer would have been wrong. */
  wrong: { right: number; wrong: number; unsure: number };
  /** An answer the fake model did not write (never expected). */
  unknown: number;
  /** Labels by the similarity of the two questions (lower edges in BINS): judged wrong (unsure counts so), truly wrong. */
  bins: Array<{ n: number; judgedWrong: number; trulyWrong: number }>;
}

/** Lower edges of the similarity bins of the label table. */
export const BINS = [0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97];

export function boundConfig(
  delta: number,
  embedder: Embedder,
  seed: number,
): { configure: Configure; tally: JudgeTally } {
  const tally: JudgeTally = {
    right: { right: 0, wrong: 0, unsure: 0 },
    wrong: { right: 0, wrong: 0, unsure: 0 },
    unknown: 0,
    bins: BINS.map(() => ({ n: 0, judgedWrong: 0, trulyWrong: 0 })),
  };
  const inner = defaultJudge(embedder);
  const configure: Configure = (model) => {
    const judge: AnswerJudge = async (pair) => {
      const verdict = await inner(pair);
      const cached = model.clusterOf(pair.cached.text);
      const fresh = model.clusterOf(pair.fresh.text);
      if (cached === undefined || fresh === undefined) {
        tally.unknown++;
        return verdict;
      }
      tally[cached === fresh ? 'right' : 'wrong'][verdictOf(verdict)]++;
      // Both questions were embedded before (a cache hit): their similarity, as the tier saw it.
      const [a, b] = await embedder.embed([pair.question, pair.cachedQuestion]);
      const similarity = dot(a!, b!);
      const bin = tally.bins[BINS.findLastIndex((edge) => similarity >= edge)];
      if (bin) {
        bin.n++;
        if (verdictOf(verdict) !== 'right') bin.judgedWrong++;
        if (cached !== fresh) bin.trulyWrong++;
      }
      return verdict;
    };
    return {
      maxErrorRate: delta,
      judge,
      random: mulberry32(seed ^ 0x0b0d),
      // One process: the label log is read after each write (settle), not on a timer.
      labelRefreshMs: 0,
    };
  };
  return { configure, tally };
}
