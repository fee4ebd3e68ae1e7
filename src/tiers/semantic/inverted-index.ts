/**
 * Sparse vectors (the lexical embedder's hashed features): an inverted index, searched exactly.
 *
 * Each dimension keeps a posting list of (slot, weight). A query touches only the postings of
 * its own non-zero dimensions (a few dozen), accumulating dot products into a reusable score
 * array: no build step, and exact for every vector that shares a distinctive dimension with the
 * query. Dimensions present in more than 1/20 of the vectors (stopword features) only add to the
 * scores of candidates found through distinctive ones; without that, every search at 100k
 * entries would score most of the index. A query made only of common dimensions is scored over
 * them all.
 *
 * Removal frees the slot (its postings are skipped); when free slots pass a third of the index,
 * postings are rebuilt without them.
 */
import type { SparseVector } from './embedder.js';
import type { Neighbour } from './neighbours.js';

/** One dimension's postings, in typed arrays grown by doubling: the search loop reads them flat. */
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
    const marks = this.marks;
    const mark = ++this.searches;
    const touched: number[] = [];
    const common = Math.max(1_000, this.ids.length / 20);
    const later: number[] = [];
    for (let n = 0; n < query.idx.length; n++) {
      const posting = this.postings.get(query.idx[n]!);
      if (!posting) continue;
      if (posting.length > common) {
        later.push(n);
        continue;
      }
      const q = query.val[n]!;
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
    // Common dimensions add to candidates already found, unless there are none at all.
    const onlyCommon = touched.length === 0;
    for (const n of later) {
      const q = query.val[n]!;
      const { slots, weights, length } = this.postings.get(query.idx[n]!)!;
      for (let i = 0; i < length; i++) {
        const slot = slots[i]!;
        if (marks[slot] !== mark) {
          if (!onlyCommon) continue;
          marks[slot] = mark;
          scores[slot] = 0;
          touched.push(slot);
        }
        scores[slot]! += q * weights[i]!;
      }
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
