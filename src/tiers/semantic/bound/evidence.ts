/**
 * What one scope (namespace and model) has learned about its semantic candidates, and the
 * decision it supports: may the entry at similarity s answer, with at most δ of such answers
 * wrong? Pure: built by folding labels (labels.ts), no I/O, no clock.
 *
 * The model has two levels (docs/semantic-bound.md says why):
 *
 * - **Shared**: every label of the scope but clients' feedback (biased towards complaints, and
 *   repeatable at will), binned by similarity. The scope's cutoff for δ is the
 *   lowest similarity t such that, among labelled candidates at or above t, the upper end of the
 *   one-sided 95% Wilson interval of the wrong share is at most δ. That is the hindsight-best
 *   static threshold, learned online, with its uncertainty paid for: with few labels the interval
 *   is wide and nothing is served (a cold start serves nothing until it has evidence; about
 *   3/δ labels with no wrong one are needed before anything is).
 *
 * - **Per entry**: an entry's own labels (feedback included) move its cutoff from the shared one. A wrong label at
 *   similarity w raises it above w + WRONG_MARGIN at once (correctness falls as similarity falls,
 *   so the entry is at least as likely wrong at any similarity up to w). Correct labels lower it:
 *   once the scope serves at all, an entry with no wrong label near s serves below the shared
 *   cutoff when its right labels at or below s, weighed against the scope's error rate near s
 *   (its upper confidence bound, as a prior worth PRIOR_WEIGHT labels), bring its estimated error
 *   at s under δ / 2. This is where some regions of the embedding space
 *   earn a lower threshold than the average, which vCache (arXiv 2502.03771) learns per entry from
 *   scratch; here the shared level is the prior, so an entry needs a few labels, not dozens.
 */

/** Similarity bins: 400 of width 0.005 over [-1, 1]. */
const BINS = 400;
const BIN_WIDTH = 2 / BINS;
/** One-sided 95%. */
const Z = 1.645;
/** A wrong label at similarity w keeps its entry from answering up to w plus this. */
export const WRONG_MARGIN = 0.02;
/** A cutoff needs labels within this many bins (0.03) above it... */
const SUPPORT_BINS = 6;
/** ...at least this many, and more for a tighter bound (1/(2δ): 50 at δ = 1%, 10 at 5%). */
function supportFor(delta: number): number {
  return Math.max(10, Math.ceil(0.5 / delta));
}
/** How many labels' worth the shared error rate counts for in an entry's own estimate. */
const PRIOR_WEIGHT = 4;
/** "Near" a similarity, for an entry's prior and its exploration: this many bins either side (±0.025). */
const NEAR_BINS = 5;
/** An entry's own right labels kept (the newest), and apart from them its wrong ones: a wrong label is never pushed out by right ones. */
const ENTRY_LABELS = 32;
/** Entries with labels kept per scope (the least recently labelled are forgotten first). */
const ENTRIES_KEPT = 50_000;

export interface Observation {
  entry: string;
  similarity: number;
  wrong: boolean;
  /** Feedback teaches its entry only; exploration also samples what is served. */
  source?: 'free' | 'exploration' | 'feedback' | 'background';
}

/** Why a candidate may or may not answer. */
export type Decision =
  | { serve: true; via: 'shared' | 'entry' }
  | { serve: false; why: 'no-evidence' | 'below-cutoff' | 'entry-wrong' };

interface EntryLabels {
  right: number[];
  wrong: number[];
}

class Bins {
  readonly total = new Uint32Array(BINS);
  readonly wrong = new Uint32Array(BINS);
  add(bin: number, wrong: boolean): void {
    this.total[bin]!++;
    if (wrong) this.wrong[bin]!++;
  }
}

export class ScopeEvidence {
  /** Every label but feedback. */
  private readonly shared = new Bins();
  /** Exploration labels alone: a sample of what is served. */
  private readonly explored = new Bins();
  private readonly entries = new Map<string, EntryLabels>();
  /** Cutoff bins by δ (-1: none), valid until the next label. */
  private cutoffs = new Map<number, number>();
  labels = 0;

  constructor(
    /** Nothing is served or labelled below this similarity (the config's `threshold`). */
    readonly floor: number,
  ) {}

  add(o: Observation): void {
    if (!Number.isFinite(o.similarity) || o.similarity < -1 || o.similarity > 1) return;
    const bin = binOf(o.similarity);
    if (o.source !== 'feedback') this.shared.add(bin, o.wrong);
    if (o.source === 'exploration') this.explored.add(bin, o.wrong);
    this.labels++;
    let own = this.entries.get(o.entry);
    if (own) this.entries.delete(o.entry);
    else {
      own = { right: [], wrong: [] };
      if (this.entries.size >= ENTRIES_KEPT) this.entries.delete(this.entries.keys().next().value!);
    }
    const list = o.wrong ? own.wrong : own.right;
    list.push(o.similarity);
    if (list.length > ENTRY_LABELS) list.shift();
    this.entries.set(o.entry, own);
    this.cutoffs = new Map();
  }

  /** May `entry`, at `similarity` to the asking question, answer under bound δ? */
  decide(entry: string, similarity: number, delta: number): Decision {
    if (similarity < this.floor) return { serve: false, why: 'below-cutoff' };
    const own = this.entries.get(entry);
    if (own?.wrong.some((w) => w + WRONG_MARGIN >= similarity)) return { serve: false, why: 'entry-wrong' };
    const cutoff = this.cutoffBin(delta);
    if (cutoff < 0) return { serve: false, why: 'no-evidence' };
    if (binOf(similarity) >= cutoff) return { serve: true, via: 'shared' };
    if (own && this.entryError(own, similarity) <= delta / 2) return { serve: true, via: 'entry' };
    return { serve: false, why: 'below-cutoff' };
  }

  /** The similarity from which the shared evidence serves under δ (a bin's lower edge), or null. */
  cutoff(delta: number): number | null {
    const bin = this.cutoffBin(delta);
    return bin < 0 ? null : Math.max(this.floor, edgeOf(bin));
  }

  /** Labelled candidates (feedback aside) at or above the cutoff for δ: how many, and how many were wrong. */
  served(delta: number): { n: number; wrong: number } {
    const from = this.cutoffBin(delta);
    let n = 0;
    let wrong = 0;
    if (from >= 0)
      for (let bin = from; bin < BINS; bin++) {
        n += this.shared.total[bin]!;
        wrong += this.shared.wrong[bin]!;
      }
    return { n, wrong };
  }

  /** How many of the entry's labels are near `similarity` (exploration is spent where they are few). */
  labelsNear(entry: string, similarity: number): number {
    const own = this.entries.get(entry);
    if (!own) return 0;
    const near = NEAR_BINS * BIN_WIDTH;
    let n = 0;
    for (const s of own.right) if (Math.abs(s - similarity) <= near) n++;
    for (const s of own.wrong) if (Math.abs(s - similarity) <= near) n++;
    return n;
  }

  /**
   * The lowest bin, not below the floor's, with labels of its own, from which: the upper
   * confidence bound of the labelled wrong share is at most δ; there are enough labels just above
   * it; and exploration labels do not show the served share above δ (their lower bound). -1: none.
   */
  private cutoffBin(delta: number): number {
    const known = this.cutoffs.get(delta);
    if (known !== undefined) return known;
    let n = 0;
    let w = 0;
    let explored = 0;
    let exploredWrong = 0;
    let found = -1;
    const lowest = binOf(this.floor);
    const support = supportFor(delta);
    for (let bin = BINS - 1; bin >= lowest; bin--) {
      explored += this.explored.total[bin]!;
      exploredWrong += this.explored.wrong[bin]!;
      if (this.shared.total[bin] === 0) continue;
      n += this.shared.total[bin]!;
      w += this.shared.wrong[bin]!;
      // Only where there are labels, and enough of them near: a cutoff is never extrapolated
      // from a few labels across ground the labels above it say nothing about (many near-
      // duplicates at 0.99 and one paraphrase at 0.81 do not make 0.81 safe).
      if (
        wilsonUpper(w, n) <= delta &&
        this.labelsNearBin(bin) >= support &&
        wilsonLower(exploredWrong, explored) <= delta
      )
        found = bin;
    }
    this.cutoffs.set(delta, found);
    return found;
  }

  /** Shared labels from `bin` up to SUPPORT_BINS above it. */
  private labelsNearBin(bin: number): number {
    let n = 0;
    for (let b = bin; b < Math.min(BINS, bin + SUPPORT_BINS); b++) n += this.shared.total[b]!;
    return n;
  }

  /**
   * An entry's estimated error at `similarity`, from its own right labels at or below it (an
   * entry right further from its question is taken to be right closer to it) and, as a prior
   * worth PRIOR_WEIGHT labels, the upper bound of the scope's wrong share near that similarity.
   */
  private entryError(own: EntryLabels, similarity: number): number {
    const right = own.right.filter((s) => s <= similarity).length;
    if (right === 0) return 1;
    return (PRIOR_WEIGHT * this.sharedErrorNear(similarity)) / (right + PRIOR_WEIGHT);
  }

  /** The upper confidence bound of the wrong share among the scope's labels within NEAR_BINS of `similarity`. */
  private sharedErrorNear(similarity: number): number {
    const centre = binOf(similarity);
    let n = 0;
    let w = 0;
    for (let bin = Math.max(0, centre - NEAR_BINS); bin <= Math.min(BINS - 1, centre + NEAR_BINS); bin++) {
      n += this.shared.total[bin]!;
      w += this.shared.wrong[bin]!;
    }
    return wilsonUpper(w, n);
  }
}

/** Upper end of the one-sided 95% Wilson score interval for w wrong of n (1 with no observation). */
export function wilsonUpper(w: number, n: number): number {
  return wilsonInterval(w, n)[1];
}

/** Lower end of the one-sided 95% Wilson score interval (0 with no observation). */
export function wilsonLower(w: number, n: number): number {
  return wilsonInterval(w, n)[0];
}

/**
 * The Wilson interval for w wrong of n with one-sided 95% at each end (90% in all): its upper end
 * is the bound the decision compares with δ, so a tier that serves never shows one above δ.
 */
export function wilsonInterval(w: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const p = w / n;
  const z2 = Z * Z;
  const centre = p + z2 / (2 * n);
  const spread = Z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, (centre - spread) / (1 + z2 / n)), Math.min(1, (centre + spread) / (1 + z2 / n))];
}

function binOf(similarity: number): number {
  return Math.min(BINS - 1, Math.max(0, Math.floor((similarity + 1) / BIN_WIDTH)));
}

function edgeOf(bin: number): number {
  return Math.round((bin * BIN_WIDTH - 1) * 1e6) / 1e6;
}
