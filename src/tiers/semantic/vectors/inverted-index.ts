/**
 * Sparse vectors (the lexical embedder's hashed features): an inverted index, searched exactly.
 *
 * Each dimension keeps a posting list of (slot, weight). A query touches only the postings of
 * its own non-zero dimensions (a few dozen), accumulating dot products into a reusable score
 * array: no build step, and exact for every vector that shares a distinctive dimension with the
 * query. Dimensions present in more than 1/50 of the vectors (stopword features) only add to the
 * scores of the best candidates found through distinctive ones (see rescoreBest); without that,
 * every search at 100k entries would score most of the index. A query made only of common
 * dimensions is scored over them all.
 *
 * Removal frees the slot (its postings are skipped); when free slots pass a third of the index,
 * postings are rebuilt without them.
 */

import type { Neighbour } from './neighbours.js';
import type { SparseVector } from './vector.js';

/** One dimension's postings, in typed arrays grown by doubling: the search loop reads them flat. */
/**
 * A dimension in more than 1/COMMON_DIVISOR of the vectors (and in more than 1,000) is common: it
 * adds to the rescored candidates' scores but finds none. At 100k Quora questions, 1/50 instead of
 * 1/20 cut the search p50 from 1.2 ms to 0.54 ms; over 2,000 unseen questions no top-1 at or above
 * the lexical threshold changed (93 of them), and the GPTCache-mock and Quora cache-simulation
 * counts are the same as before (bench/README.md, issue 18).
 */
const COMMON_DIVISOR = 50;
/** How many candidates, best by their distinctive dimensions, are rescored with the common ones. */
const RESCORED = 200;

/** The `count` slots of highest score (in no order): a quickselect over a copy of their scores. */
function topSlots(slots: number[], scores: Float32Array, count: number): number[] {
  const values = new Float32Array(slots.length);
  for (let i = 0; i < slots.length; i++) values[i] = scores[slots[i]!]!;
  // The count-th largest value, by quickselect (Hoare partitions on the copy).
  let lo = 0;
  let hi = values.length - 1;
  const target = count - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! > pivot) i++;
      while (values[j]! < pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  const kth = values[target]!;
  const out: number[] = [];
  for (const slot of slots) if (scores[slot]! > kth) out.push(slot);
  for (const slot of slots) {
    if (out.length >= count) break;
    if (scores[slot] === kth) out.push(slot);
  }
  return out;
}

interface Posting {
  slots: Int32Array;
  weights: Float32Array;
  length: number;
}

export class InvertedIndex {
  private postings = new Map<number, Posting>();
  /** slot -> external id, or -1 when freed. */
  private ids: number[] = [];
  private readonly slotOf = new Map<number, number>();
  /** slot -> its vector, kept for rebuilds. */
  private features: Array<SparseVector | undefined> = [];
  private freed = 0;
  private scores = new Float32Array(0);
  /** Marks which slots the current search touched (by search number), so none is listed twice. */
  private marks = new Uint32Array(0);
  private searches = 0;

  get size(): number {
    return this.slotOf.size;
  }

  add(id: number, vector: SparseVector): void {
    this.remove(id);
    const slot = this.ids.length;
    this.ids.push(id);
    this.slotOf.set(id, slot);
    this.features.push(vector);
    this.post(slot, vector);
  }

  remove(id: number): void {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return;
    this.slotOf.delete(id);
    this.ids[slot] = -1;
    this.features[slot] = undefined;
    if (++this.freed > this.ids.length / 3) this.compact();
  }

  clear(): void {
    this.postings = new Map();
    this.ids = [];
    this.features = [];
    this.slotOf.clear();
    this.freed = 0;
  }

  search(query: SparseVector, k: number): Neighbour[] {
    if (this.scores.length < this.ids.length) {
      this.scores = new Float32Array(Math.max(1024, this.ids.length * 2));
      this.marks = new Uint32Array(this.scores.length);
    }
    const scores = this.scores;
    const mark = ++this.searches;
    let touched: number[] = [];
    const common = Math.max(1_000, this.ids.length / COMMON_DIVISOR);
    const later: number[] = [];
    for (let n = 0; n < query.idx.length; n++) {
      const posting = this.postings.get(query.idx[n]!);
      if (!posting) continue;
      if (posting.length > common) {
        later.push(n);
        continue;
      }
      this.accumulate(posting, query.val[n]!, mark, touched);
    }
    if (touched.length === 0) {
      // Only common dimensions: they are all the query has, so they are scored over the index.
      for (const n of later) this.accumulate(this.postings.get(query.idx[n]!)!, query.val[n]!, mark, touched);
    } else if (later.length > 0) {
      touched = this.rescoreBest(query, later, touched);
    }
    const top: Neighbour[] = [];
    for (const slot of touched) {
      const score = scores[slot]!;
      const id = this.ids[slot]!;
      if (id < 0) continue;
      if (top.length < k) {
        top.push({ id, score });
        if (top.length === k) top.sort((a, b) => b.score - a.score);
      } else if (score > top[k - 1]!.score) {
        top[k - 1] = { id, score };
        top.sort((a, b) => b.score - a.score);
      }
    }
    return top.sort((a, b) => b.score - a.score);
  }

  /** Adds one query dimension's share to the score of every slot in its postings. */
  private accumulate(posting: Posting, q: number, mark: number, touched: number[]): void {
    const { scores, marks } = this;
    const { slots, weights, length } = posting;
    for (let i = 0; i < length; i++) {
      const slot = slots[i]!;
      if (marks[slot] !== mark) {
        marks[slot] = mark;
        scores[slot] = 0;
        touched.push(slot);
      }
      scores[slot]! += q * weights[i]!;
    }
  }

  /**
   * Common dimensions only add to candidates found through distinctive ones. Walking their
   * postings visits most of the index (about 150k postings per query at 100k entries), so instead
   * the RESCORED best candidates by the distinctive dimensions get the common dimensions' share
   * from their own features, and only they compete for the top k. Measured on 2,000 unseen Quora
   * questions at 100k entries: every top-1 at or above the lexical threshold is the one the full
   * pass finds; 10 of the 2,000 top-1s below it differ.
   */
  private rescoreBest(query: SparseVector, later: number[], touched: number[]): number[] {
    const scores = this.scores;
    const best = touched.length > RESCORED ? topSlots(touched, scores, RESCORED) : touched;
    const common = new Map<number, number>();
    for (const n of later) common.set(query.idx[n]!, query.val[n]!);
    for (const slot of best) {
      const features = this.features[slot];
      if (!features) continue;
      let add = 0;
      for (let j = 0; j < features.idx.length; j++) {
        const q = common.get(features.idx[j]!);
        if (q !== undefined) add += q * features.val[j]!;
      }
      scores[slot]! += add;
    }
    return best;
  }

  private post(slot: number, vector: SparseVector): void {
    for (let i = 0; i < vector.idx.length; i++) {
      const d = vector.idx[i]!;
      let posting = this.postings.get(d);
      if (!posting) {
        posting = { slots: new Int32Array(4), weights: new Float32Array(4), length: 0 };
        this.postings.set(d, posting);
      } else if (posting.length === posting.slots.length) {
        const slots = new Int32Array(posting.length * 2);
        slots.set(posting.slots);
        const weights = new Float32Array(posting.length * 2);
        weights.set(posting.weights);
        posting.slots = slots;
        posting.weights = weights;
      }
      posting.slots[posting.length] = slot;
      posting.weights[posting.length] = vector.val[i]!;
      posting.length++;
    }
  }

  private compact(): void {
    const live = [...this.slotOf.entries()].map(([id, slot]) => ({ id, features: this.features[slot]! }));
    this.clear();
    for (const { id, features } of live) {
      const slot = this.ids.length;
      this.ids.push(id);
      this.slotOf.set(id, slot);
      this.features.push(features);
      this.post(slot, features);
    }
  }
}
