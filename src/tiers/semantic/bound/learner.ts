/**
 * The semantic tier's learner under `maxErrorRate` (docs/semantic-bound.md): decides whether a
 * candidate may answer (evidence.ts), spends exploration, turns what happens next into labels
 * (labels.ts) judged by the judge (judge.ts), keeps them in the store's label log and follows
 * that log, so what one process learns, every process on a shared store knows.
 *
 * Nothing here is on a lookup's critical path but the decision itself: labels are judged and
 * written after the response (`settle()` waits for them), and the log is read in the background.
 * A failure of either is counted and logged by the tier, and costs only what would have been
 * learned: never a lookup, never a hit that the evidence does not support.
 */
import type { Clock } from '../../../core/clock.js';
import type { Sealer } from '../../../core/encryption/keyring.js';
import type { NamespaceBound } from '../../../core/tier.js';
import { answerOf } from './answer.js';
import { ScopeEvidence, wilsonInterval } from './evidence.js';
import { type AnswerJudge, type BackgroundJudge, type JudgedPair, verdictOf } from './judge.js';
import { type Label, type LabelLog, type LabelSource, scopeOf } from './labels.js';

export interface LearnerOptions {
  /** δ for every namespace not in `maxErrorRates`; undefined: those use the fixed threshold. */
  maxErrorRate?: number;
  maxErrorRates?: Record<string, number>;
  /** Nothing is served or labelled below this similarity in a namespace (the fixed threshold). */
  floorOf(namespace: string): number;
  /** At most this share of a namespace's lookups become exploration calls. */
  explorationBudget: number;
  judge: AnswerJudge;
  backgroundJudge?: BackgroundJudge;
  log: LabelLog;
  /** The stored payload of an entry, to compare its answer with a fresh one. */
  payloadOf(hash: string): Promise<string | undefined>;
  clock: Clock;
  random: () => number;
  /** How often the log is read for other processes' labels (`0`: only after writing). */
  refreshMs: number;
  onError(error: Error): void;
  /**
   * The config's keys under `encryption`: every label is written with a proof by them, and a label
   * read without a valid one (planted by someone who can write the store but has no keys) is
   * skipped. Without it, labels are taken as the store gives them, like its entries.
   */
  sealer?: Sealer;
}

/** The question and entry of a lookup that will be labelled when its fresh answer is stored. */
interface Pending {
  scope: string;
  namespace: string;
  entry: string;
  similarity: number;
  question: string;
  cachedQuestion: string;
  source: 'free' | 'exploration';
  at: number;
}

/** The entry that answered a lookup by similarity, which feedback on the lookup labels. */
export interface Answered {
  namespace: string;
  llmString: string;
  entry: string;
  similarity: number;
}

interface Counters {
  lookups: number;
  hits: number;
  explorations: number;
  labels: Record<LabelSource, number>;
}

/** A lookup waits this long at most for its fresh answer to be labelled. */
const PENDING_MS = 10 * 60_000;
const PENDING_KEPT = 10_000;
/** Scopes (namespace and model pairs) learned: about 4 KB each, plus their entries' labels. */
const SCOPES_KEPT = 50_000;
/** Namespaces counted one by one; the rest are counted together under OTHER. */
const NAMESPACES_COUNTED = 1_000;
/** The monitor's name for the rest (monitor/insights.ts OTHER). */
const OTHER_NAMESPACES = '(other)';
const PAGE = 5_000;
/** A judge that has not answered in this long is unsure; a background judge, no label. */
const JUDGE_MS = 30_000;
const BACKGROUND_JUDGE_MS = 5 * 60_000;
const OURS_KEPT = 10_000;

/** Whether a candidate answers; one held back to explore says so. (A label's verdict is judge.ts's.) */
type Serving = { serve: true } | { serve: false; explore?: true };

export class Learner {
  private readonly scopes = new Map<string, ScopeEvidence>();
  private readonly namespaceOfScope = new Map<string, string>();
  private readonly counters = new Map<string, Counters>();
  private readonly pending = new Map<string, Pending>();
  /** Judging and writing in progress, awaited by `settle()`. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Labels this process appended and learned, not yet read back from the log (by fingerprint). */
  private readonly ours = new Map<string, number>();
  private lastId = 0;
  /** Whether SCOPES_KEPT was reached (said once). */
  private full = false;
  /** Labels read from the log without a valid proof under encryption: skipped. */
  unproven = 0;
  private lastRead = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;

  constructor(private readonly options: LearnerOptions) {
    this.track(this.read());
  }

  /** δ for a namespace, or undefined when it uses the fixed threshold. */
  boundOf(namespace: string): number | undefined {
    return this.options.maxErrorRates?.[namespace] ?? this.options.maxErrorRate;
  }

  /** Counts a lookup that reached the tier in a namespace under a bound. */
  lookedUp(namespace: string): void {
    this.countersOf(namespace).lookups++;
    if (this.options.clock.now() - this.lastRead >= this.options.refreshMs && this.options.refreshMs > 0)
      this.track(this.read());
  }

  /**
   * Whether the nearest candidate that passed the guards may answer `keyHash`. When it may not,
   * or when the answer is held back to explore, the lookup's fresh answer will label it.
   */
  decide(
    keyHash: string,
    namespace: string,
    llmString: string,
    candidate: { entry: string; similarity: number; question: string; cachedQuestion: string },
  ): Serving {
    const delta = this.boundOf(namespace)!;
    const scope = scopeOf(namespace, llmString);
    const evidence = this.evidenceOf(scope, namespace);
    if (!evidence) return { serve: false };
    // Identical questions score 1 plus float error: a label there is the most telling one.
    candidate = { ...candidate, similarity: clamped(candidate.similarity) };
    const decision = evidence.decide(candidate.entry, candidate.similarity, delta);
    const pending = (source: Pending['source']) =>
      this.remember(this.pending, PENDING_KEPT, keyHash, {
        scope,
        namespace,
        ...candidate,
        source,
        at: this.options.clock.now(),
      });
    if (!decision.serve) {
      pending('free');
      return { serve: false };
    }
    const counters = this.countersOf(namespace);
    if (this.explores(counters, evidence.labelsNear(candidate.entry, candidate.similarity))) {
      counters.explorations++;
      pending('exploration');
      return { serve: false, explore: true };
    }
    return { serve: true };
  }

  /** Counts a hit: a candidate `decide` let answer was read and returned. */
  served(namespace: string): void {
    this.countersOf(namespace).hits++;
  }

  /**
   * The fresh answer of `keyHash` was stored: label the candidate it was compared with, after the
   * response (the judge may embed, or ask a model).
   */
  stored(keyHash: string, namespace: string, payload: string, sealer: Sealer | undefined): void {
    const pending = this.pending.get(keyHash);
    if (!pending) return;
    this.pending.delete(keyHash);
    if (this.options.clock.now() - pending.at > PENDING_MS) return;
    this.track(this.judge(pending, keyHash, namespace, payload, sealer));
  }

  /** A client says the entry that answered a lookup was wrong (or right) for it; false outside a bound. */
  async feedback(answered: Answered, wrong: boolean): Promise<boolean> {
    if (this.boundOf(answered.namespace) === undefined) return false;
    const { namespace, llmString, entry, similarity } = answered;
    await this.record([
      {
        scope: scopeOf(namespace, llmString),
        namespace,
        entry,
        similarity: clamped(similarity),
        wrong,
        source: 'feedback',
        at: this.options.clock.now(),
      },
    ]);
    return true;
  }

  /** Waits for labels being judged and written, and reads the log (other processes' labels). */
  async settle(): Promise<void> {
    await this.drain();
    await this.read();
  }

  /** Waits for labels being judged and written (before the store closes). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Per namespace; once the log has been read as far as it is being read now (a start reads it whole). */
  async stats(): Promise<Record<string, NamespaceBound>> {
    await this.reading;
    const out: Record<string, NamespaceBound> = {};
    const evidence = new Map<string, { n: number; wrong: number; cutoff: number | null }>();
    for (const [scope, e] of this.scopes) {
      const namespace = this.counted(this.namespaceOfScope.get(scope)!);
      const delta = this.boundOf(namespace);
      if (delta === undefined) continue;
      const cutoff = e.cutoff(delta);
      const sum = evidence.get(namespace) ?? { n: 0, wrong: 0, cutoff: null };
      if (cutoff !== null) {
        const above = e.served(delta);
        sum.n += above.n;
        sum.wrong += above.wrong;
        sum.cutoff = sum.cutoff === null ? cutoff : Math.min(sum.cutoff, cutoff);
      }
      evidence.set(namespace, sum);
    }
    for (const [namespace, c] of this.counters) {
      const delta = this.boundOf(namespace) ?? this.options.maxErrorRate;
      if (delta === undefined) continue;
      const e = evidence.get(namespace);
      const [low, high] = e && e.n > 0 ? wilsonInterval(e.wrong, e.n) : [null, null];
      out[namespace] = {
        maxErrorRate: delta,
        errorRate: e && e.n > 0 ? e.wrong / e.n : null,
        errorLow: low,
        errorHigh: high,
        lookups: c.lookups,
        hits: c.hits,
        labels: { ...c.labels },
        explorations: c.explorations,
        explorationBudget: this.options.explorationBudget,
        cutoff: e?.cutoff ?? null,
      };
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Explore with a probability that falls as the entry gathers labels near this similarity (labels
   * far from it vouch for other questions), within the budget: at most `explorationBudget` of the
   * namespace's lookups.
   */
  private explores(counters: Counters, labelsNear: number): boolean {
    const budget = this.options.explorationBudget;
    if (budget <= 0 || counters.explorations + 1 > budget * counters.lookups) return false;
    return this.options.random() < Math.min(1, (2 * budget) / (1 + labelsNear));
  }

  private async judge(
    pending: Pending,
    keyHash: string,
    namespace: string,
    payload: string,
    sealer: Sealer | undefined,
  ): Promise<void> {
    const cachedPayload = await this.options.payloadOf(pending.entry);
    // The entry is gone (evicted, deleted, marked bad) or unreadable: nothing to compare.
    if (cachedPayload === undefined) return;
    const cached = answerOf(cachedPayload, namespace, pending.entry, sealer);
    const fresh = answerOf(payload, namespace, keyHash, sealer);
    if (!cached || !fresh) return;
    const pair: JudgedPair = {
      question: pending.question,
      cachedQuestion: pending.cachedQuestion,
      cached,
      fresh,
    };
    // A judge that throws (at once or later) or answers anything else is unsure.
    let verdict = verdictOf(
      await within(JUDGE_MS, (async () => this.options.judge(pair))()).catch(() => 'unsure'),
    );
    let source: LabelSource = pending.source;
    if (verdict === 'unsure' && this.options.backgroundJudge) {
      const judge = this.options.backgroundJudge;
      const approved = await within(BACKGROUND_JUDGE_MS, (async () => judge(pair))()).catch(
        (error: unknown) => {
          this.options.onError(new BackgroundJudgeError(error));
          return undefined;
        },
      );
      // A background judge that could not decide leaves the pair unlabelled rather than guessed.
      if (approved === undefined) return;
      verdict = approved === true ? 'right' : 'wrong';
      source = 'background';
    }
    await this.record([
      {
        scope: pending.scope,
        namespace: pending.namespace,
        entry: pending.entry,
        similarity: pending.similarity,
        // Unsure is wrong: a wrong "right" would teach the tier to serve wrong answers.
        wrong: verdict !== 'right',
        source,
        at: this.options.clock.now(),
      },
    ]);
  }

  /**
   * Learns labels at once and appends them to the log, then reads the log (others' labels). A
   * shared log may hand a label back only later (postgres-store.ts holds the newest back): ours
   * are remembered until they come back, so none is learned twice.
   */
  private async record(unproved: Label[]): Promise<void> {
    const sealer = this.options.sealer;
    const labels = sealer ? unproved.map((l) => ({ ...l, proof: sealer.seal('', proofAad(l)) })) : unproved;
    for (const label of labels) this.learn(label);
    try {
      await this.options.log.appendLabels(labels);
    } catch (error) {
      this.options.onError(error as Error);
      return;
    }
    for (const label of labels) {
      const print = fingerprint(label);
      this.ours.set(print, (this.ours.get(print) ?? 0) + 1);
      if (this.ours.size > OURS_KEPT) this.ours.delete(this.ours.keys().next().value!);
    }
    await this.read();
  }

  /** Reads the log from where this process left it (one reader at a time). */
  private read(): Promise<void> {
    this.reading ??= this.readAll().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async readAll(): Promise<void> {
    this.lastRead = this.options.clock.now();
    try {
      for (;;) {
        const page = await this.options.log.labelsAfter(this.lastId, PAGE);
        for (const label of page) {
          this.lastId = Math.max(this.lastId, label.id);
          const print = fingerprint(label);
          const mine = this.ours.get(print);
          if (mine === undefined) {
            if (this.proven(label)) this.learn(label);
            else this.unproven++;
          } else if (mine > 1) this.ours.set(print, mine - 1);
          else this.ours.delete(print);
        }
        if (page.length < PAGE) return;
      }
    } catch (error) {
      this.options.onError(error as Error);
    }
  }

  /** Without encryption every label; under it, one whose proof opens with the config's keys. */
  private proven(label: Label): boolean {
    const sealer = this.options.sealer;
    return !sealer || (label.proof !== undefined && sealer.open(label.proof, proofAad(label)) === '');
  }

  private learn(label: Label): void {
    const evidence = this.evidenceOf(label.scope, label.namespace);
    if (!evidence) return;
    evidence.add(label);
    this.countersOf(label.namespace).labels[label.source]++;
  }

  /**
   * The evidence of a scope; undefined beyond SCOPES_KEPT scopes. Evidence is never dropped to make
   * room: a scope learned afresh would have forgotten its wrong labels. A scope beyond the limit
   * is neither served nor learned from (said once), in this process and after a restart alike.
   */
  private evidenceOf(scope: string, namespace: string): ScopeEvidence | undefined {
    const known = this.scopes.get(scope);
    if (known) return known;
    if (this.scopes.size >= SCOPES_KEPT) {
      if (!this.full) {
        this.full = true;
        this.options.onError(
          new Error(
            `maxErrorRate: more than ${SCOPES_KEPT} namespace and model pairs; the others are neither learned nor served`,
          ),
        );
      }
      return undefined;
    }
    const evidence = new ScopeEvidence(this.options.floorOf(namespace));
    this.scopes.set(scope, evidence);
    this.namespaceOfScope.set(scope, namespace);
    return evidence;
  }

  private counted(namespace: string): string {
    return this.counters.has(namespace) || this.counters.size < NAMESPACES_COUNTED
      ? namespace
      : OTHER_NAMESPACES;
  }

  private countersOf(namespace: string): Counters {
    const name = this.counted(namespace);
    let c = this.counters.get(name);
    if (!c) {
      c = {
        lookups: 0,
        hits: 0,
        explorations: 0,
        labels: { free: 0, exploration: 0, feedback: 0, background: 0 },
      };
      this.counters.set(name, c);
    }
    return c;
  }

  private remember(map: Map<string, Pending>, kept: number, key: string, value: Pending): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > kept) map.delete(map.keys().next().value!);
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => this.options.onError(error as Error));
    const done = tracked.finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }
}

/** What tells one label from another when it comes back from the log (the log adds only its id). */
function fingerprint(l: Label): string {
  return `${l.scope}\0${l.namespace}\0${l.entry}\0${l.similarity}\0${l.wrong}\0${l.source}\0${l.at}`;
}

/** What a label's proof binds: every field the learner uses, unambiguously (JSON). */
function proofAad(l: Label): string {
  return `label\0${JSON.stringify([l.scope, l.namespace, l.entry, l.similarity, l.wrong, l.source, l.at])}`;
}

function clamped(similarity: number): number {
  return Math.min(1, Math.max(-1, similarity));
}

/** A background judge that threw: reported as the tier's, under its own name. */
export class BackgroundJudgeError extends Error {
  /** What failed, for the tier's log line ("background judge failed (...)"). */
  readonly op = 'background judge';
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.name = 'BackgroundJudgeError';
  }
}

/** What `work` resolves to, or undefined if it takes longer than `ms` (the timer does not hold the process). */
function within<T>(ms: number, work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
    timer.unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
