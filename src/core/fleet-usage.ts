/**
 * The fleet's namespaces and semantic matching: what each process adds to its counter snapshot
 * (core/fleet.ts) so that the dashboard's namespace, semantic and error-bound panels show the
 * whole fleet under `strata serve`, not the serving process alone.
 *
 * Bounded. Namespaces are the application's (one per user, per tenant at the gateway), so a
 * snapshot cannot carry them all. Each process counts at most TRACKED_NAMESPACES by name (new
 * ones past that go straight to its "other" bucket, as the monitor's own insights do) and
 * reports its FLEET_TOP_NAMESPACES with the most lookups by name plus one `other` bucket that
 * sums every other namespace it saw; each named row carries its saved tokens for at most
 * MODELS_PER_NAMESPACE models (the rest under the model `(other)`, which no price names). A
 * snapshot's namespace part is therefore at most 21 rows whatever the tenant count. A semantic
 * tier's error bound is reported the same way (its top namespaces by lookups, and `other`).
 *
 * Merge. The reader sums the named rows by name and the `other` buckets together, then ranks
 * the names and folds those past its own limit into `other`. Every lookup is in exactly one
 * place: a namespace in one process's top and in another's `other` is counted by name for the
 * first and in `other` for the second, so the fleet's figure for a name is a lower bound (what
 * the processes that rank it report), `other` holds the rest, and named rows plus `other` add
 * up to the sum of every process's lookups, exactly. A process whose ranking changes moves
 * counts between a name and `other`; the total does not move.
 *
 * An error bound's counts (lookups, hits, explorations) are sums like any other. What comes from
 * its evidence (the estimate, its interval, the cutoff) is the shared store's, read alike by
 * every process on it, so the freshest report naming the namespace is shown; labels count that
 * shared log (each process reads it whole), so the fleet shows the largest count reported, not
 * a sum that would count each label once per process.
 *
 * What a namespace string may hold: any 1-256 characters the application chose (a user or tenant
 * id); the gateway's are `<root>/<tenant>` where a tenant taken from a credential is a keyed
 * digest, never the credential. The names go to the same store that already keeps them beside
 * every entry (the namespace column or key), and a monitor that hides namespaces (the gateway's
 * without a token) names them by rank as it does its own.
 */
import { LABEL_SOURCES, type LabelSource, type NamespaceBound, type TierStats } from './tier.js';

/** Namespaces a process reports by name (by lookups); the rest are summed in `other`. */
export const FLEET_TOP_NAMESPACES = 20;
/** Namespaces a process counts by name at all: a namespace per user must not grow it without limit. */
export const TRACKED_NAMESPACES = 500;
/** Models whose saved tokens a namespace row carries by name. */
export const MODELS_PER_NAMESPACE = 8;
/** The bucket of everything not shown by name (the monitor's insights and bound rows use the same). */
export const OTHER = '(other)';
/** Similarity histogram: bins of SIMILARITY_BIN from SIMILARITY_FROM to 1; lower values fall in the first. */
export const SIMILARITY_FROM = 0.5;
export const SIMILARITY_BIN = 0.02;
const SIMILARITY_BINS = Math.round((1 - SIMILARITY_FROM) / SIMILARITY_BIN);

/** One namespace's lookups, hits and the tokens its hits saved, per model: `[model, input, output]`. */
export interface NamespaceCounts {
  lookups: number;
  hits: number;
  tokens: Array<[string, number, number]>;
}
export interface NamespaceUsage extends NamespaceCounts {
  name: string;
}
/** A process's namespaces in its snapshot: its top by lookups, and everything else summed. */
export interface NamespacesSnapshot {
  top: NamespaceUsage[];
  other: NamespaceCounts;
}

/** One namespace of an error bound (NamespaceBound), with what cannot be known as null. */
export interface BoundUsage {
  namespace: string;
  maxErrorRate: number | null;
  errorRate: number | null;
  errorLow: number | null;
  errorHigh: number | null;
  lookups: number;
  hits: number;
  labels: Record<LabelSource, number>;
  explorations: number;
  explorationBudget: number | null;
  cutoff: number | null;
}

/** A similarity tier's part of a snapshot: its hits' similarity, its refusals and its bound. */
export interface SemanticSnapshot {
  tier: string;
  similarity?: { from: number; bin: number; counts: number[] };
  /** Lookups refused, by guard (`verifier` included). */
  refusals: Record<string, number>;
  bound?: { top: BoundUsage[]; other: BoundUsage };
}

interface Tracked {
  lookups: number;
  hits: number;
  tokens: Map<string, [number, number]>;
}

const emptyTracked = (): Tracked => ({ lookups: 0, hits: 0, tokens: new Map() });

/** What one process counts for its snapshot (the fleet reporter feeds it the cache's hits and misses). */
export class FleetUsage {
  private readonly named = new Map<string, Tracked>();
  private readonly overflow = emptyTracked();
  private readonly similarity = new Map<string, number[]>();

  lookup(namespace: string, hit: boolean, model?: string, inputTokens = 0, outputTokens = 0): void {
    let row = this.named.get(namespace);
    if (!row) {
      if (this.named.size < TRACKED_NAMESPACES) {
        row = emptyTracked();
        this.named.set(namespace, row);
      } else row = this.overflow;
    }
    row.lookups++;
    if (!hit) return;
    row.hits++;
    if (model === undefined || inputTokens + outputTokens <= 0) return;
    const named =
      model.length <= MAX_NAME && (row.tokens.has(model) || row.tokens.size < MODELS_PER_NAMESPACE);
    const key = named ? model : OTHER;
    const t = row.tokens.get(key) ?? [0, 0];
    t[0] += inputTokens;
    t[1] += outputTokens;
    row.tokens.set(key, t);
  }

  similarHit(tier: string, similarity: number): void {
    let bins = this.similarity.get(tier);
    if (!bins) {
      bins = new Array<number>(SIMILARITY_BINS).fill(0);
      this.similarity.set(tier, bins);
    }
    bins[similarityBin(similarity)]!++;
  }

  namespaces(limit = FLEET_TOP_NAMESPACES): NamespacesSnapshot {
    const ranked = [...this.named].sort(
      ([a, x], [b, y]) => y.lookups - x.lookups || (a < b ? -1 : a > b ? 1 : 0),
    );
    const other: NamespaceCounts = { lookups: 0, hits: 0, tokens: [] };
    const otherTokens = new Map<string, [number, number]>();
    const fold = (t: Tracked) => {
      other.lookups += t.lookups;
      other.hits += t.hits;
      for (const [model, [i, o]] of t.tokens) addTokens(otherTokens, model, i, o);
    };
    for (const [, t] of ranked.slice(limit)) fold(t);
    fold(this.overflow);
    other.tokens = boundedTokens(otherTokens);
    return {
      top: ranked.slice(0, limit).map(([name, t]) => ({
        name,
        lookups: t.lookups,
        hits: t.hits,
        tokens: [...t.tokens].map(([model, [i, o]]) => [model, i, o]),
      })),
      other,
    };
  }

  /** A similarity tier's part, from its stats (refusals, bound) and the similarity of its hits here. */
  semantic(tier: string, stats: TierStats | undefined): SemanticSnapshot {
    const refusals: Record<string, number> = {};
    const guards = stats?.guardRefusals;
    if (isRecord(guards)) for (const [g, n] of Object.entries(guards)) if (isCount(n)) refusals[g] = n;
    if (isCount(stats?.verifierRefusals) && stats.verifierRefusals > 0)
      refusals.verifier = stats.verifierRefusals;
    const bins = this.similarity.get(tier);
    const bound = stats?.bound;
    return {
      tier,
      ...(bins ? { similarity: { from: SIMILARITY_FROM, bin: SIMILARITY_BIN, counts: [...bins] } } : {}),
      refusals,
      ...(isRecord(bound) ? { bound: boundSnapshot(bound as Record<string, NamespaceBound>) } : {}),
    };
  }
}

/** The bin of a similarity (index 0 holds everything below SIMILARITY_FROM + one bin). */
export function similarityBin(similarity: number): number {
  const index = Math.floor((similarity - SIMILARITY_FROM) / SIMILARITY_BIN + 1e-9);
  return Math.min(SIMILARITY_BINS - 1, Math.max(0, Number.isFinite(index) ? index : 0));
}

/** A tier's bound as a process reports it: the `limit` namespaces with most lookups, the rest summed. */
export function boundSnapshot(
  bound: Record<string, NamespaceBound>,
  limit = FLEET_TOP_NAMESPACES,
): { top: BoundUsage[]; other: BoundUsage } {
  // The learner's own overflow bucket is a bucket, not a namespace.
  const rows = Object.entries(bound)
    .filter(([, b]) => isRecord(b))
    .map(([namespace, b]) => boundRow(namespace, b));
  const named = rows
    .filter((r) => r.namespace !== OTHER)
    .sort((a, b) => b.lookups - a.lookups || (a.namespace < b.namespace ? -1 : 1));
  const rest = [...named.slice(limit), ...rows.filter((r) => r.namespace === OTHER)];
  return { top: named.slice(0, limit), other: sumBound(rest, 'sum') };
}

// --- the reader -------------------------------------------------------------------------------

/** The fleet's namespaces: named rows (most lookups first, at most `limit`) and `other`. */
export function mergeNamespaces(
  parts: ReadonlyArray<NamespacesSnapshot | undefined>,
  limit: number,
): { rows: NamespaceUsage[]; other: NamespaceCounts; reporting: number } {
  const named = new Map<string, { lookups: number; hits: number; tokens: Map<string, [number, number]> }>();
  const other = { lookups: 0, hits: 0, tokens: new Map<string, [number, number]>() };
  const add = (acc: typeof other, c: NamespaceCounts) => {
    acc.lookups += c.lookups;
    acc.hits += c.hits;
    for (const [model, i, o] of c.tokens) addTokens(acc.tokens, model, i, o);
  };
  let reporting = 0;
  for (const part of parts) {
    if (!part) continue;
    reporting++;
    for (const row of part.top) {
      let acc = named.get(row.name);
      if (!acc) {
        acc = { lookups: 0, hits: 0, tokens: new Map() };
        named.set(row.name, acc);
      }
      add(acc, row);
    }
    add(other, part.other);
  }
  const ranked = [...named].sort(([a, x], [b, y]) => y.lookups - x.lookups || (a < b ? -1 : a > b ? 1 : 0));
  for (const [, acc] of ranked.slice(limit)) add(other, { ...acc, tokens: tokensOf(acc.tokens) });
  return {
    rows: ranked
      .slice(0, limit)
      .map(([name, acc]) => ({ name, lookups: acc.lookups, hits: acc.hits, tokens: tokensOf(acc.tokens) })),
    other: { lookups: other.lookups, hits: other.hits, tokens: tokensOf(other.tokens) },
    reporting,
  };
}

/** One similarity tier over the fleet. */
export interface FleetSemantic {
  similarity?: { from: number; bin: number; counts: number[] };
  refusals: Record<string, number>;
  /** Most lookups first, at most `limit` by name, then `(other)` when anything is in it. */
  bound?: BoundUsage[];
}

/** Each similarity tier's part summed over the processes that report it (`at`: when each reported). */
export function mergeSemantic(
  parts: ReadonlyArray<{ at: number; semantic: readonly SemanticSnapshot[] | undefined }>,
  limit = FLEET_TOP_NAMESPACES,
): Map<string, FleetSemantic> {
  const tiers = new Map<
    string,
    {
      similarity?: number[];
      refusals: Record<string, number>;
      named?: Map<string, { row: BoundUsage; at: number }>;
      other?: BoundUsage[];
    }
  >();
  for (const { at, semantic } of parts) {
    for (const s of semantic ?? []) {
      let acc = tiers.get(s.tier);
      if (!acc) {
        acc = { refusals: {} };
        tiers.set(s.tier, acc);
      }
      const h = s.similarity;
      // A histogram binned otherwise (another version) cannot be added bin by bin: left out.
      if (
        h &&
        h.from === SIMILARITY_FROM &&
        h.bin === SIMILARITY_BIN &&
        h.counts.length === SIMILARITY_BINS
      ) {
        acc.similarity ??= new Array<number>(SIMILARITY_BINS).fill(0);
        h.counts.forEach((n, i) => {
          acc.similarity![i]! += n;
        });
      }
      for (const [guard, n] of Object.entries(s.refusals))
        acc.refusals[guard] = (acc.refusals[guard] ?? 0) + n;
      if (!s.bound) continue;
      acc.named ??= new Map();
      acc.other ??= [];
      for (const row of s.bound.top) {
        const known = acc.named.get(row.namespace);
        if (!known) acc.named.set(row.namespace, { row: { ...row, labels: { ...row.labels } }, at });
        else {
          const fresher = at > known.at;
          known.row = mergeBound(known.row, row, fresher);
          if (fresher) known.at = at;
        }
      }
      acc.other.push(s.bound.other);
    }
  }
  const out = new Map<string, FleetSemantic>();
  for (const [tier, acc] of tiers) {
    let bound: BoundUsage[] | undefined;
    if (acc.named) {
      const ranked = [...acc.named.values()]
        .map((n) => n.row)
        .sort((a, b) => b.lookups - a.lookups || (a.namespace < b.namespace ? -1 : 1));
      // Each process's `other` holds a different set of namespaces, on one shared label log: its
      // labels are the largest reported; the namespaces folded here add theirs.
      const reported = sumBound(acc.other ?? [], 'max');
      const folded = ranked.slice(limit);
      const other = folded.length > 0 ? sumBound([reported, sumBound(folded, 'sum')], 'sum') : reported;
      bound = ranked.slice(0, limit);
      if (other.lookups > 0 || other.hits > 0 || other.explorations > 0) bound.push(other);
    }
    out.set(tier, {
      ...(acc.similarity
        ? { similarity: { from: SIMILARITY_FROM, bin: SIMILARITY_BIN, counts: acc.similarity } }
        : {}),
      refusals: acc.refusals,
      ...(bound ? { bound } : {}),
    });
  }
  return out;
}

/** Counts summed; labels the largest; evidence from the fresher report. */
function mergeBound(known: BoundUsage, row: BoundUsage, fresher: boolean): BoundUsage {
  const evidence = fresher ? row : known;
  const labels = {} as Record<LabelSource, number>;
  for (const s of LABEL_SOURCES) labels[s] = Math.max(known.labels[s], row.labels[s]);
  return {
    namespace: known.namespace,
    maxErrorRate: evidence.maxErrorRate,
    errorRate: evidence.errorRate,
    errorLow: evidence.errorLow,
    errorHigh: evidence.errorHigh,
    lookups: known.lookups + row.lookups,
    hits: known.hits + row.hits,
    labels,
    explorations: known.explorations + row.explorations,
    explorationBudget: evidence.explorationBudget,
    cutoff: evidence.cutoff,
  };
}

/** Several rows as one `(other)`: counts summed, labels summed or the largest, a bound kept when all share it. */
export function sumBound(rows: readonly BoundUsage[], labelsBy: 'sum' | 'max'): BoundUsage {
  const labels = {} as Record<LabelSource, number>;
  for (const s of LABEL_SOURCES)
    labels[s] = rows.reduce((n, r) => (labelsBy === 'sum' ? n + r.labels[s] : Math.max(n, r.labels[s])), 0);
  const shared = (pick: (r: BoundUsage) => number | null) => {
    const values = new Set(rows.map(pick));
    return values.size === 1 ? pick(rows[0]!) : null;
  };
  return {
    namespace: OTHER,
    maxErrorRate: shared((r) => r.maxErrorRate),
    errorRate: null,
    errorLow: null,
    errorHigh: null,
    lookups: rows.reduce((n, r) => n + r.lookups, 0),
    hits: rows.reduce((n, r) => n + r.hits, 0),
    labels,
    explorations: rows.reduce((n, r) => n + r.explorations, 0),
    explorationBudget: shared((r) => r.explorationBudget),
    cutoff: null,
  };
}

/**
 * One namespace's bound as a row, from a tier's stats or another process's report alike: every
 * field checked (rates within [0, 1], counts finite and not negative), what is not so is null or 0.
 */
export function boundRow(namespace: string, b: Partial<Record<keyof NamespaceBound, unknown>>): BoundUsage {
  const labels = {} as Record<LabelSource, number>;
  const given = isRecord(b.labels) ? b.labels : {};
  for (const s of LABEL_SOURCES) labels[s] = count(given[s]);
  return {
    namespace,
    maxErrorRate: rate(b.maxErrorRate),
    errorRate: rate(b.errorRate),
    errorLow: rate(b.errorLow),
    errorHigh: rate(b.errorHigh),
    lookups: count(b.lookups),
    hits: count(b.hits),
    labels,
    explorations: count(b.explorations),
    explorationBudget: rate(b.explorationBudget),
    cutoff: finite(b.cutoff),
  };
}

// --- reading what another process wrote: nothing in a row is trusted --------------------------

const MAX_ROWS = 100;
const MAX_NAME = 256;
const MAX_TOKENS = 32;
const MAX_GUARDS = 64;
const MAX_TIERS = 64;

/** A snapshot's namespace part, well-formed, or undefined (absent, from an older version, or malformed). */
export function readNamespaces(value: unknown): NamespacesSnapshot | undefined {
  if (!isRecord(value) || !Array.isArray(value.top) || !isRecord(value.other)) return undefined;
  const top: NamespaceUsage[] = [];
  for (const row of value.top.slice(0, MAX_ROWS)) {
    if (!isRecord(row) || !isName(row.name)) continue;
    top.push({ name: row.name, ...counts(row) });
  }
  return { top, other: counts(value.other) };
}

/** A snapshot's semantic part, well-formed, or undefined. */
export function readSemantic(value: unknown): SemanticSnapshot[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: SemanticSnapshot[] = [];
  for (const s of value.slice(0, MAX_TIERS)) {
    if (!isRecord(s) || !isName(s.tier)) continue;
    const refusals: Record<string, number> = {};
    if (isRecord(s.refusals))
      for (const [g, n] of Object.entries(s.refusals).slice(0, MAX_GUARDS))
        if (isName(g) && isCount(n)) refusals[g] = n;
    const h = s.similarity;
    const similarity =
      isRecord(h) && typeof h.from === 'number' && typeof h.bin === 'number' && Array.isArray(h.counts)
        ? { from: h.from, bin: h.bin, counts: h.counts.slice(0, 1000).map(count) }
        : undefined;
    const b = s.bound;
    const bound =
      isRecord(b) && Array.isArray(b.top) && isRecord(b.other)
        ? {
            top: b.top
              .slice(0, MAX_ROWS)
              .filter((r): r is Record<string, unknown> => isRecord(r) && isName(r.namespace))
              .map((r) => boundRow(r.namespace as string, r)),
            other: boundRow(OTHER, b.other),
          }
        : undefined;
    out.push({ tier: s.tier, ...(similarity ? { similarity } : {}), refusals, ...(bound ? { bound } : {}) });
  }
  return out;
}

function counts(row: Record<string, unknown>): NamespaceCounts {
  const tokens: Array<[string, number, number]> = [];
  if (Array.isArray(row.tokens))
    for (const t of row.tokens.slice(0, MAX_TOKENS))
      if (Array.isArray(t) && isName(t[0])) tokens.push([t[0], count(t[1]), count(t[2])]);
  return { lookups: count(row.lookups), hits: count(row.hits), tokens };
}

function addTokens(map: Map<string, [number, number]>, model: string, i: number, o: number): void {
  const t = map.get(model) ?? [0, 0];
  t[0] += i;
  t[1] += o;
  map.set(model, t);
}

function tokensOf(map: Map<string, [number, number]>): Array<[string, number, number]> {
  return [...map].map(([model, [i, o]]) => [model, i, o]);
}

/** The models with the most tokens by name, the rest under `(other)`. */
function boundedTokens(map: Map<string, [number, number]>): Array<[string, number, number]> {
  const ranked = tokensOf(map).sort((a, b) => b[1] + b[2] - (a[1] + a[2]));
  const kept = ranked.slice(0, MODELS_PER_NAMESPACE);
  const rest = ranked.slice(MODELS_PER_NAMESPACE);
  if (rest.length === 0) return kept;
  const folded = new Map(kept.map(([m, i, o]) => [m, [i, o] as [number, number]]));
  for (const [, i, o] of rest) addTokens(folded, OTHER, i, o);
  return tokensOf(folded);
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const count = (v: unknown): number => (isCount(v) ? v : 0);
const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const rate = (v: unknown): number | null => {
  const n = finite(v);
  return n !== null && n >= 0 && n <= 1 ? n : null;
};
