/**
 * Request streams for the semantic-bound benchmark, built from labelled paraphrase data: every
 * question belongs to one cluster (the questions that share an answer), and requests arrive
 * with Zipf-skewed repetition over clusters, each picking a member question uniformly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { mulberry32 } from '../../src/demo/random.js';
import { dot, type Vector } from '../../src/tiers/semantic/vectors/vector.js';
import { gptcacheMockPairs, SEMANTIC_DATA } from '../harness.js';

export interface BenchRequest {
  question: string;
  cluster: number;
}

export interface Stream {
  name: string;
  /** How it was built, for the report. */
  description: string;
  requests: BenchRequest[];
  /** Every cluster's member questions, in data order; cluster ids index this. */
  clusters: string[][];
  /** Distinct questions the requests ask (to embed once). */
  asked: string[];
  /** Pairs of clusters an annotator compared and found different (`a,b`, a < b); QQP only. */
  labelledDifferent?: Set<string>;
}

/** Union-find over question texts. */
class Clusters {
  private readonly parent = new Map<string, string>();
  root(x: string): string {
    let r = x;
    while (true) {
      const p = this.parent.get(r);
      if (p === undefined) {
        this.parent.set(r, r);
        return r;
      }
      if (p === r) break;
      r = p;
    }
    // Path compression.
    let y = x;
    while (y !== r) {
      const next = this.parent.get(y)!;
      this.parent.set(y, r);
      y = next;
    }
    return r;
  }
  join(a: string, b: string): void {
    const ra = this.root(a);
    const rb = this.root(b);
    if (ra !== rb) this.parent.set(ra, rb);
  }
  /** Members of every cluster, in first-seen order of `texts`. */
  members(texts: Iterable<string>): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const t of texts) {
      const r = this.root(t);
      const list = out.get(r);
      if (list) {
        if (!list.includes(t)) list.push(t);
      } else out.set(r, [t]);
    }
    return out;
  }
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** `count` requests: cluster of rank k (0-based) with probability ∝ 1/(k+1)^s, a member uniformly. */
function zipfRequests(clusters: string[][], count: number, s: number, random: () => number): BenchRequest[] {
  const cumulative: number[] = [];
  let total = 0;
  for (let k = 0; k < clusters.length; k++) {
    total += 1 / (k + 1) ** s;
    cumulative.push(total);
  }
  const requests: BenchRequest[] = [];
  for (let i = 0; i < count; i++) {
    const u = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    const members = clusters[lo]!;
    requests.push({ question: members[Math.floor(random() * members.length)]!, cluster: lo });
  }
  return requests;
}

function asked(requests: BenchRequest[]): string[] {
  return [...new Set(requests.map((r) => r.question))];
}

export interface StreamOptions {
  seed: number;
  /** Zipf exponent over cluster ranks. */
  zipf: number;
  requests: number;
}

/**
 * Quora Question Pairs. Clusters: union-find over every duplicate pair (label 1) of the whole
 * file; a question in no duplicate pair is a cluster of its own. A seeded sample of `pairs`
 * pairs of both labels picks the clusters, and ranks them in the order it meets them, so the two
 * sides of a non-duplicate pair (a same-topic, different question) get neighbouring ranks and
 * about the same popularity: hard negatives meet in the stream. A cluster brings all its
 * questions from the whole file, at most `maxMembers`.
 */
export function qqpStream(o: StreamOptions & { pairs: number; maxMembers: number }): Stream {
  const raw = JSON.parse(
    gunzipSync(readFileSync(join(SEMANTIC_DATA, 'qqp_full_pairs.json.gz'))).toString('utf8'),
  ) as Array<{ text_a: string; text_b: string; label: number }>;
  const uf = new Clusters();
  for (const r of raw) if (r.label === 1) uf.join(r.text_a, r.text_b);
  const members = uf.members(raw.flatMap((r) => [r.text_a, r.text_b]));
  const random = mulberry32(o.seed);
  const sampled = shuffled(raw, random).slice(0, o.pairs);
  const ranked = new Map<string, string[]>();
  for (const p of sampled) {
    for (const q of [p.text_a, p.text_b]) {
      const r = uf.root(q);
      if (!ranked.has(r)) ranked.set(r, members.get(r)!.slice(0, o.maxMembers));
    }
  }
  const clusters = [...ranked.values()];
  const requests = zipfRequests(clusters, o.requests, o.zipf, random);
  const negatives = sampled.filter((p) => p.label === 0).length;
  const idOf = new Map([...ranked.keys()].map((r, i) => [r, i]));
  const labelledDifferent = new Set<string>();
  for (const r of raw) {
    if (r.label !== 0) continue;
    const a = idOf.get(uf.root(r.text_a));
    const b = idOf.get(uf.root(r.text_b));
    if (a !== undefined && b !== undefined && a !== b) labelledDifferent.add(pairKey(a, b));
  }
  return {
    name: 'qqp',
    description:
      `QQP: ${o.pairs.toLocaleString('en-US')} sampled pairs (${negatives.toLocaleString('en-US')} non-duplicates), ` +
      `${clusters.length.toLocaleString('en-US')} clusters of ${clusters.reduce((n, c) => n + c.length, 0).toLocaleString('en-US')} questions ` +
      `(at most ${o.maxMembers} per cluster), ${o.requests.toLocaleString('en-US')} requests, Zipf s = ${o.zipf}`,
    requests,
    clusters,
    asked: asked(requests),
    labelledDifferent,
  };
}

const pairKey = (a: number, b: number) => (a < b ? `${a},${b}` : `${b},${a}`);

/**
 * The stream without the clusters the oracle cannot judge: QQP labels only the pairs annotators
 * compared, so two clusters about the same thing that no one compared count as different, and a
 * hit between them as wrong, though most such pairs are paraphrases ("How do I become physically
 * strong?" / "How can I become physically strong?"). Where two asked questions of different
 * clusters are at least `similarity` apart and no labelled non-duplicate pair joins their
 * clusters, the later-ranked cluster's requests are left out. This uses the embedder to pick
 * what to leave out (never to label): it removes the noisiest part of the top of the similarity
 * range, so read it as a check of the learner where a bound is attainable, not as QQP itself.
 */
export function withoutUnlabelledNeighbours(
  stream: Stream,
  vectors: Map<string, Vector>,
  similarity: number,
): Stream {
  const clusterOf = new Map<string, number>();
  for (const r of stream.requests) clusterOf.set(r.question, r.cluster);
  const dropped = new Set<number>();
  const texts = stream.asked;
  for (let i = 0; i < texts.length; i++) {
    const ci = clusterOf.get(texts[i]!)!;
    const vi = vectors.get(texts[i]!)!;
    for (let j = i + 1; j < texts.length; j++) {
      const cj = clusterOf.get(texts[j]!)!;
      if (ci === cj || dropped.has(ci) || dropped.has(cj)) continue;
      if (stream.labelledDifferent?.has(pairKey(ci, cj))) continue;
      if (dot(vi, vectors.get(texts[j]!)!) >= similarity) dropped.add(Math.max(ci, cj));
    }
  }
  const requests = stream.requests.filter((r) => !dropped.has(r.cluster));
  return {
    ...stream,
    name: `${stream.name}-audited`,
    description: `${stream.description}; audited: ${dropped.size} clusters with an unlabelled neighbour at similarity ≥ ${similarity} left out, ${requests.length.toLocaleString('en-US')} requests remain`,
    requests,
    asked: asked(requests),
  };
}

/**
 * GPTCache's mock set: a cluster is an origin/similar pair (pairs sharing a text are joined:
 * the set holds some origins twice), ranked in a seeded shuffle.
 */
export function gptcacheStream(o: StreamOptions): Stream {
  const pairs = gptcacheMockPairs();
  const uf = new Clusters();
  for (const p of pairs) uf.join(p.origin, p.similar);
  const random = mulberry32(o.seed);
  const members = uf.members(shuffled(pairs, random).flatMap((p) => [p.origin, p.similar]));
  const clusters = [...members.values()];
  const requests = zipfRequests(clusters, o.requests, o.zipf, random);
  return {
    name: 'gptcache',
    description: `GPTCache mock set: ${pairs.length} pairs as ${clusters.length} clusters, ${o.requests.toLocaleString('en-US')} requests, Zipf s = ${o.zipf}`,
    requests,
    clusters,
    asked: asked(requests),
  };
}
