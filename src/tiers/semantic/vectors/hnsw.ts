/**
 * Dense vectors (neural embeddings): nearest neighbours by cosine similarity (vectors are unit
 * length, so a dot product).
 *
 * Small partitions are searched exactly: a linear scan over a few thousand vectors costs less
 * than walking a graph. Above `exactBelow` vectors the partition builds an HNSW graph (Malkov &
 * Yashunin, 2016): every vector is a node with up to M links per layer (2M on the bottom one), on
 * a random number of layers (geometric, 1/ln M); a search descends through the sparse upper
 * layers (a beam of efSearch/4) and then explores the dense bottom layer with a beam of
 * `efSearch` candidates.
 *
 * Memory is flat, so that a million vectors fit in well under a gigabyte and a saved index is
 * restored without parsing it node by node: node `s` (a slot) holds its vector as int8 in
 * `vectors[s*dims ...]` with one float scale (scalar quantization, per vector: the largest
 * component maps to 127), its entry id in `ids[s]`, its bottom-layer links in
 * `links0[s*(2M+1) ...]` (a count, then the slots); the few nodes above the bottom layer (1 in
 * M) keep their upper links in a sparse map. Scores are the query (float) against the int8
 * vector: within ~1e-3 of the float dot product. The store rescores the candidates it returns
 * with the vectors it keeps exactly (local-store.ts), so no decision rests on the int8 score.
 *
 * Removal leaves a tombstone (the node keeps routing searches but is never returned); when
 * tombstones pass a third of the graph it is rebuilt from the live vectors.
 *
 * `snapshot()` is those arrays, one after the other behind a header; `HnswIndex.restore` takes
 * typed-array views on the bytes after checking every count, level and link is in range: no
 * per-node objects, and a damaged or crafted snapshot is refused whole (never a crash, never a
 * link out of the graph). Version 1 snapshots (links only, by entry id, before the flat layout)
 * are converted by `fromLinks` given the vectors.
 */

import type { Neighbour, VectorIndexOptions } from './neighbours.js';

/** 'HNW2' little-endian: never 1, the first word of a version-1 snapshot. */
const MAGIC = 0x32574e48;
const VERSION = 2;
const HEADER_WORDS = 16;
/** Far above any level the geometric draw produces (P(level > 40) ~ 16^-40): a bigger one is a damaged snapshot. */
const MAX_LEVEL = 64;
const MAX_DIMS = 65_536;
/** Version 1: [version, entry, maxLevel, count, then per node: id, level, and per level its link count and links]. */
const V1 = 1;

const align8 = (n: number) => (n + 7) & ~7;

/** Section sizes in bytes of a snapshot of `count` nodes. */
function layout(count: number, dims: number, m0: number, upperWords: number) {
  const ids = HEADER_WORDS * 4;
  const scales = ids + count * 8;
  const levels = scales + align8(count * 4);
  const removed = levels + align8(count);
  const vectors = removed + align8(count);
  const links0 = vectors + align8(count * dims);
  const upper = links0 + align8(count * (m0 + 1) * 4);
  const end = upper + upperWords * 4;
  return { ids, scales, levels, removed, vectors, links0, upper, end };
}

export class HnswIndex {
  private dims = 0;
  /** Slots in use (live and tombstoned). */
  private count = 0;
  private capacity = 0;
  private ids = new Float64Array(0);
  private scales = new Float32Array(0);
  private levels = new Uint8Array(0);
  private removedFlags = new Uint8Array(0);
  private vectors = new Int8Array(0);
  private links0 = new Int32Array(0);
  /** Scores of links0's links (NaN: not known yet, as after a restore); only while adding. */
  private linkScores0: Float32Array | undefined;
  /** The search that last visited each slot (`visits`): a visited mark without a Set. */
  private seen = new Uint32Array(0);
  /** Slots above the bottom layer: per level 1..level, M+1 words (a count, then the slots). */
  private upper = new Map<number, Int32Array>();
  /** Entry id to slot, built when first needed (a restored index that only searches never needs it). */
  private slotById: Map<number, number> | undefined;
  private entry = -1;
  private maxLevel = -1;
  private graphBuilt = false;
  private tombstones = 0;
  private readonly exactBelow: number;
  private readonly m: number;
  private readonly m0: number;
  private readonly efConstruction: number;
  private readonly efSearch: number;
  private readonly levelFactor: number;
  private readonly rng: () => number;
  /** Counts beam searches; a node whose `seen` equals it was visited by the current one. */
  private visits = 0;
  /** The vector being linked, as floats (the query of the build's beam searches). */
  private scratch = new Float32Array(0);
  private scratch2 = new Float32Array(0);
  private readonly candidates = new SlotHeap();
  private readonly results = new SlotHeap();

  constructor(options: VectorIndexOptions = {}) {
    this.exactBelow = options.exactBelow ?? 2_000;
    this.m = options.m ?? 16;
    this.m0 = this.m * 2;
    this.efConstruction = options.efConstruction ?? 64;
    this.efSearch = options.efSearch ?? 64;
    this.levelFactor = 1 / Math.log(this.m);
    let seed = options.seed ?? 0x5eed;
    this.rng = () => {
      seed = (seed + 0x6d2b79f5) >>> 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  get size(): number {
    return this.count - this.tombstones;
  }

  /** Whether the vectors are linked in a graph (else they are searched by exact scan). */
  get hasGraph(): boolean {
    return this.graphBuilt;
  }

  /** Bytes held per slot by the arrays (vectors, scales, ids, links, marks), for reports. */
  get bytes(): number {
    return (
      this.capacity * (this.dims + 4 + 8 + 1 + 1 + 4 + (this.m0 + 1) * 4) +
      (this.linkScores0?.byteLength ?? 0) +
      [...this.upper.values()].reduce((sum, u) => sum + u.byteLength, 0)
    );
  }

  has(id: number): boolean {
    const slot = this.slots().get(id);
    return slot !== undefined && this.removedFlags[slot] === 0;
  }

  /**
   * Whether the live node of `id` holds `vector` as add() would have quantized it: a saved index
   * checked against the rows, so that a node keeping a stale or another store's vector is relinked.
   */
  holds(id: number, vector: Float32Array): boolean {
    const slot = this.slots().get(id);
    if (slot === undefined || this.removedFlags[slot] === 1 || vector.length !== this.dims) return false;
    const scale = quantScale(vector);
    if (Math.fround(scale) !== this.scales[slot]) return false;
    const base = slot * this.dims;
    for (let i = 0; i < vector.length; i++)
      if (this.vectors[base + i] !== quantize(vector[i]!, scale)) return false;
    return true;
  }

  /** The ids of the live vectors. */
  *liveIds(): IterableIterator<number> {
    for (let s = 0; s < this.count; s++) if (this.removedFlags[s] === 0) yield this.ids[s]!;
  }

  add(id: number, vector: Float32Array): void {
    if (this.dims === 0) this.dims = vector.length;
    if (vector.length !== this.dims)
      throw new Error(`vector of ${vector.length} dimensions in an index of ${this.dims}`);
    if (this.slots().has(id)) this.remove(id);
    const slot = this.newSlot(id, vector);
    if (this.graphBuilt) this.link(slot);
    else if (this.count >= this.exactBelow) this.buildGraph();
  }

  remove(id: number): void {
    const slots = this.slots();
    const slot = slots.get(id);
    if (slot === undefined || this.removedFlags[slot] === 1) return;
    if (!this.graphBuilt) {
      // An exact scan has no links: the last slot moves into the hole.
      const last = this.count - 1;
      slots.delete(id);
      if (slot !== last) {
        this.ids[slot] = this.ids[last]!;
        this.scales[slot] = this.scales[last]!;
        this.vectors.copyWithin(slot * this.dims, last * this.dims, (last + 1) * this.dims);
        slots.set(this.ids[slot]!, slot);
      }
      this.count--;
      return;
    }
    this.removedFlags[slot] = 1;
    slots.delete(id);
    this.tombstones++;
    if (this.tombstones > this.count / 3) this.rebuild();
  }

  clear(): void {
    this.count = 0;
    this.capacity = 0;
    this.dims = 0;
    this.allocate(0);
    this.upper.clear();
    this.slotById = undefined;
    this.linkScores0 = undefined;
    this.entry = -1;
    this.maxLevel = -1;
    this.graphBuilt = false;
    this.tombstones = 0;
  }

  /** The k most similar live vectors, best first (scores of the int8 vectors). */
  search(query: Float32Array, k: number): Neighbour[] {
    if (this.count === 0 || query.length !== this.dims || k <= 0) return [];
    if (!this.graphBuilt) return this.exact(query, k);
    // The upper layers are searched with a beam too (a quarter of the bottom one's), its results
    // all entry points of the layer below: the greedy descent of the paper (a beam of 1) often
    // enters the bottom layer in the wrong cluster of near-duplicates. At a million entries
    // (bench/README.md, semantic-million) recall@1 went from 87% to ~97% for ~0.3 ms.
    const ef = Math.max(this.efSearch, k);
    let entryPoints = [this.entry];
    for (let level = this.maxLevel; level > 0; level--)
      entryPoints = this.beam(query, entryPoints, Math.max(1, ef >> 2), level).map((n) => n.id);
    const found = this.beam(query, entryPoints, ef, 0);
    const out: Neighbour[] = [];
    for (const f of found) {
      if (this.removedFlags[f.id] === 1) continue;
      out.push({ id: this.ids[f.id]!, score: f.score });
      if (out.length === k) break;
    }
    return out;
  }

  /** The index as bytes (header, then its arrays); restore() takes it back. Undefined when empty. */
  snapshot(): Uint8Array | undefined {
    if (this.count === 0) return undefined;
    let upperWords = 0;
    for (const links of this.upper.values()) upperWords += 2 + links.length;
    const n = this.count;
    const at = layout(n, this.dims, this.m0, upperWords);
    const out = new Uint8Array(at.end);
    const header = new Int32Array(out.buffer, 0, HEADER_WORDS);
    header.set([
      MAGIC,
      VERSION,
      this.dims,
      n,
      this.entry,
      this.maxLevel,
      this.m,
      this.graphBuilt ? 1 : 0,
      this.tombstones,
      this.upper.size,
      upperWords,
    ]);
    new Float64Array(out.buffer, at.ids, n).set(this.ids.subarray(0, n));
    new Float32Array(out.buffer, at.scales, n).set(this.scales.subarray(0, n));
    out.set(this.levels.subarray(0, n), at.levels);
    out.set(this.removedFlags.subarray(0, n), at.removed);
    new Int8Array(out.buffer, at.vectors, n * this.dims).set(this.vectors.subarray(0, n * this.dims));
    new Int32Array(out.buffer, at.links0, n * (this.m0 + 1)).set(this.links0.subarray(0, n * (this.m0 + 1)));
    const upper = new Int32Array(out.buffer, at.upper, upperWords);
    let i = 0;
    for (const [slot, links] of [...this.upper].sort((a, b) => a[0] - b[0])) {
      upper[i++] = slot;
      upper[i++] = this.levels[slot]!;
      upper.set(links, i);
      i += links.length;
    }
    return out;
  }

  /**
   * The index a snapshot describes, its arrays views on `bytes` (copied only when misaligned);
   * undefined when it is not a whole, consistent snapshot of this version with these options.
   */
  static restore(bytes: Uint8Array, options: VectorIndexOptions = {}): HnswIndex | undefined {
    if (bytes.byteLength < HEADER_WORDS * 4) return undefined;
    if (bytes.byteOffset % 8 !== 0) bytes = new Uint8Array(bytes);
    const h = new Int32Array(bytes.buffer, bytes.byteOffset, HEADER_WORDS);
    const [magic, version, dims, n, entry, maxLevel, m, built, tombstones, upperCount, upperWords] =
      h as unknown as number[];
    const index = new HnswIndex(options);
    if (magic !== MAGIC || version !== VERSION || m !== index.m) return undefined;
    if (!(dims! >= 1 && dims! <= MAX_DIMS && n! >= 1 && upperWords! >= 0 && upperCount! >= 0))
      return undefined;
    if (!(built === 0 || built === 1) || !(maxLevel! >= -1 && maxLevel! <= MAX_LEVEL)) return undefined;
    const at = layout(n!, dims!, index.m0, upperWords!);
    if (at.end !== bytes.byteLength) return undefined;
    const view = <T>(
      C: new (b: ArrayBufferLike, o: number, l: number) => T,
      offset: number,
      length: number,
    ) => new C(bytes.buffer, bytes.byteOffset + offset, length);
    const ids = view(Float64Array, at.ids, n!);
    const scales = view(Float32Array, at.scales, n!);
    const levels = view(Uint8Array, at.levels, n!);
    const removed = view(Uint8Array, at.removed, n!);
    const links0 = view(Int32Array, at.links0, n! * (index.m0 + 1));
    const upper = view(Int32Array, at.upper, upperWords!);
    let dead = 0;
    let above = 0;
    for (let s = 0; s < n!; s++) {
      if (!Number.isSafeInteger(ids[s]) || !Number.isFinite(scales[s]) || scales[s]! < 0) return undefined;
      if (levels[s]! > MAX_LEVEL || removed[s]! > 1) return undefined;
      dead += removed[s]!;
      if (levels[s]! > 0) above++;
    }
    if (dead !== tombstones || above !== upperCount || (built === 0 && (dead > 0 || above > 0)))
      return undefined;
    if (built === 1 && !(entry! >= 0 && entry! < n! && levels[entry!] === maxLevel)) return undefined;
    if (built === 0 && entry !== -1) return undefined;
    if (!checkLinks(links0, n!, index.m0 + 1, index.m0)) return undefined;
    const byNode = new Map<number, Int32Array>();
    for (let i = 0; i < upperWords!; ) {
      const slot = upper[i]!;
      const level = upper[i + 1]!;
      const words = level * (index.m + 1);
      if (!(slot >= 0 && slot < n! && level >= 1 && level === levels[slot]) || byNode.has(slot))
        return undefined;
      if (i + 2 + words > upperWords!) return undefined;
      const links = upper.subarray(i + 2, i + 2 + words);
      if (!checkLinks(links, n!, index.m + 1, index.m)) return undefined;
      for (let l = 1; l <= level; l++) {
        const base = (l - 1) * (index.m + 1);
        for (let j = 1; j <= links[base]!; j++) if (levels[links[base + j]!]! < l) return undefined;
      }
      byNode.set(slot, links);
      i += 2 + words;
    }
    if (byNode.size !== upperCount) return undefined;
    index.dims = dims!;
    index.count = n!;
    index.capacity = n!;
    index.ids = ids;
    index.scales = scales;
    index.levels = levels;
    index.removedFlags = removed;
    index.vectors = view(Int8Array, at.vectors, n! * dims!);
    index.links0 = links0;
    index.seen = new Uint32Array(n!);
    index.upper = byNode;
    index.entry = entry!;
    index.maxLevel = maxLevel!;
    index.graphBuilt = built === 1;
    index.tombstones = tombstones!;
    return index;
  }

  /**
   * Version 1 (links by entry id, from before the flat layout): the graph it describes over
   * `vectors`, links to ids not among them dropped; undefined when it is not a whole one. The ids
   * of `vectors` it does not know are left out: `missing` lists them, to add.
   */
  static fromLinks(
    snapshot: Int32Array,
    vectors: ReadonlyMap<number, Float32Array>,
    options: VectorIndexOptions = {},
  ): { index: HnswIndex; dropped: number; missing: number[] } | undefined {
    const parsed = parseV1(snapshot);
    if (!parsed) return undefined;
    const index = new HnswIndex(options);
    const known: Array<{ id: number; level: number; links: number[][] }> = [];
    for (const [id, node] of parsed.nodes) {
      const vector = vectors.get(id);
      if (!vector) continue;
      if (index.dims === 0) index.dims = vector.length;
      if (vector.length !== index.dims) return undefined;
      index.newSlot(id, vector);
      known.push({ id, ...node });
    }
    if (index.count === 0) return undefined;
    const slots = index.slots();
    for (let s = 0; s < known.length; s++) {
      const { level, links } = known[s]!;
      index.setLevel(s, level);
      for (let l = 0; l <= level; l++) {
        const kept = (links[l] ?? [])
          .map((id) => slots.get(id))
          .filter((x): x is number => x !== undefined && (known[x]?.level ?? -1) >= l);
        index.setLinks(s, l, kept.slice(0, l === 0 ? index.m0 : index.m));
      }
    }
    index.graphBuilt = true;
    const entry = slots.get(parsed.entry);
    if (entry !== undefined) {
      index.entry = entry;
      index.maxLevel = index.levels[entry]!;
    } else {
      for (let s = 0; s < index.count; s++) {
        if (index.levels[s]! > index.maxLevel) {
          index.entry = s;
          index.maxLevel = index.levels[s]!;
        }
      }
    }
    const missing = [...vectors.keys()].filter((id) => !slots.has(id));
    return { index, dropped: parsed.nodes.size - index.count, missing };
  }

  // -------------------------------------------------------------------------------------------

  private slots(): Map<number, number> {
    if (!this.slotById) {
      this.slotById = new Map();
      for (let s = 0; s < this.count; s++) if (this.removedFlags[s] === 0) this.slotById.set(this.ids[s]!, s);
    }
    return this.slotById;
  }

  private allocate(capacity: number): void {
    const grow = <T extends Float64Array | Float32Array | Uint8Array | Int8Array | Int32Array | Uint32Array>(
      old: T,
      make: (n: number) => T,
      per: number,
    ): T => {
      const next = make(capacity * per);
      next.set(old.subarray(0, Math.min(old.length, this.count * per)) as never);
      return next;
    };
    this.ids = grow(this.ids, (n) => new Float64Array(n), 1);
    this.scales = grow(this.scales, (n) => new Float32Array(n), 1);
    this.levels = grow(this.levels, (n) => new Uint8Array(n), 1);
    this.removedFlags = grow(this.removedFlags, (n) => new Uint8Array(n), 1);
    this.vectors = grow(this.vectors, (n) => new Int8Array(n), this.dims);
    this.links0 = grow(this.links0, (n) => new Int32Array(n), this.m0 + 1);
    if (this.linkScores0)
      this.linkScores0 = grow(this.linkScores0, (n) => new Float32Array(n).fill(Number.NaN), this.m0 + 1);
    this.seen = new Uint32Array(capacity);
    this.visits = 0;
    this.capacity = capacity;
  }

  /** A new slot holding the vector, quantized; linked by the caller. */
  private newSlot(id: number, vector: Float32Array): number {
    if (this.count === this.capacity) this.allocate(Math.max(64, Math.ceil(this.capacity * 1.5)));
    const slot = this.count++;
    const scale = quantScale(vector);
    const base = slot * this.dims;
    for (let i = 0; i < vector.length; i++) this.vectors[base + i] = quantize(vector[i]!, scale);
    this.scales[slot] = scale;
    this.ids[slot] = id;
    this.levels[slot] = 0;
    this.removedFlags[slot] = 0;
    this.links0[slot * (this.m0 + 1)] = 0;
    this.upper.delete(slot);
    this.slotById?.set(id, slot);
    return slot;
  }

  private setLevel(slot: number, level: number): void {
    this.levels[slot] = level;
    if (level > 0) this.upper.set(slot, new Int32Array(level * (this.m + 1)));
    else this.upper.delete(slot);
  }

  private setLinks(slot: number, level: number, links: number[]): void {
    if (level === 0) {
      const base = slot * (this.m0 + 1);
      this.links0[base] = links.length;
      for (let i = 0; i < links.length; i++) this.links0[base + 1 + i] = links[i]!;
      if (this.linkScores0) this.linkScores0.fill(Number.NaN, base, base + this.m0 + 1);
    } else {
      const u = this.upper.get(slot)!;
      const base = (level - 1) * (this.m + 1);
      u[base] = links.length;
      for (let i = 0; i < links.length; i++) u[base + 1 + i] = links[i]!;
    }
  }

  /** The vector of a slot, as floats, into `out`. */
  private decode(slot: number, out: Float32Array): Float32Array {
    const base = slot * this.dims;
    const scale = this.scales[slot]!;
    for (let i = 0; i < this.dims; i++) out[i] = this.vectors[base + i]! * scale;
    return out;
  }

  private score(query: Float32Array, slot: number): number {
    const v = this.vectors;
    const d = this.dims;
    const base = slot * d;
    let s0 = 0;
    let s1 = 0;
    let i = 0;
    for (; i + 1 < d; i += 2) {
      s0 += query[i]! * v[base + i]!;
      s1 += query[i + 1]! * v[base + i + 1]!;
    }
    if (i < d) s0 += query[i]! * v[base + i]!;
    return (s0 + s1) * this.scales[slot]!;
  }

  private exact(query: Float32Array, k: number): Neighbour[] {
    const top: Neighbour[] = [];
    for (let s = 0; s < this.count; s++) {
      const score = this.score(query, s);
      if (top.length < k) {
        top.push({ id: s, score });
        top.sort((a, b) => b.score - a.score);
      } else if (score > top[k - 1]!.score) {
        top[k - 1] = { id: s, score };
        top.sort((a, b) => b.score - a.score);
      }
    }
    return top.map((t) => ({ id: this.ids[t.id]!, score: t.score }));
  }

  private buildGraph(): void {
    this.graphBuilt = true;
    this.entry = -1;
    this.maxLevel = -1;
    for (let s = 0; s < this.count; s++) this.link(s);
  }

  private rebuild(): void {
    const live: Array<[number, Float32Array]> = [];
    for (let s = 0; s < this.count; s++)
      if (this.removedFlags[s] === 0) live.push([this.ids[s]!, this.decode(s, new Float32Array(this.dims))]);
    const dims = this.dims;
    this.clear();
    this.dims = dims;
    for (const [id, v] of live) this.newSlot(id, v);
    if (this.count >= this.exactBelow) this.buildGraph();
  }

  private link(slot: number): void {
    if (this.scratch.length !== this.dims) {
      this.scratch = new Float32Array(this.dims);
      this.scratch2 = new Float32Array(this.dims);
    }
    if (!this.linkScores0)
      this.linkScores0 = new Float32Array(this.capacity * (this.m0 + 1)).fill(Number.NaN);
    const vector = this.decode(slot, this.scratch);
    const level = Math.min(MAX_LEVEL, Math.floor(-Math.log(1 - this.rng()) * this.levelFactor));
    this.setLevel(slot, level);
    this.setLinks(slot, 0, []);
    if (this.entry === -1) {
      this.entry = slot;
      this.maxLevel = level;
      return;
    }
    let current = this.entry;
    for (let l = this.maxLevel; l > level; l--)
      current = this.beam(vector, [current], 1, l)[0]?.id ?? current;
    let entryPoints = [current];
    for (let l = Math.min(level, this.maxLevel); l >= 0; l--) {
      const candidates = this.beam(vector, entryPoints, this.efConstruction, l);
      const chosen = this.selectNeighbours(candidates, this.m);
      this.setLinks(
        slot,
        l,
        chosen.map((c) => c.id),
      );
      if (l === 0) {
        const base = slot * (this.m0 + 1);
        for (let i = 0; i < chosen.length; i++) this.linkScores0[base + 1 + i] = chosen[i]!.score;
      }
      for (const c of chosen) this.connect(c.id, slot, c.score, l);
      entryPoints = candidates.map((c) => c.id);
    }
    if (level > this.maxLevel) {
      this.maxLevel = level;
      this.entry = slot;
    }
  }

  /**
   * Adds a link from `from` to `to` on a level; beyond the level's maximum the farthest link goes
   * (plain nearest-first pruning: the heuristic's pairwise comparisons on every overflow would
   * dominate the build). Bottom-layer scores are kept, so pruning there computes none.
   */
  private connect(from: number, to: number, score: number, level: number): void {
    if (level === 0) {
      const base = from * (this.m0 + 1);
      const links = this.links0;
      const scores = this.linkScores0!;
      const n = links[base]!;
      if (n < this.m0) {
        links[base] = n + 1;
        links[base + 1 + n] = to;
        scores[base + 1 + n] = score;
        return;
      }
      let worst = -1;
      let worstScore = score;
      let decoded = false;
      for (let i = 1; i <= n; i++) {
        let s = scores[base + i]!;
        if (Number.isNaN(s)) {
          if (!decoded) {
            this.decode(from, this.scratch2);
            decoded = true;
          }
          s = this.score(this.scratch2, links[base + i]!);
          scores[base + i] = s;
        }
        if (s < worstScore) {
          worstScore = s;
          worst = i;
        }
      }
      if (worst !== -1) {
        links[base + worst] = to;
        scores[base + worst] = score;
      }
      return;
    }
    const u = this.upper.get(from)!;
    const base = (level - 1) * (this.m + 1);
    const n = u[base]!;
    if (n < this.m) {
      u[base] = n + 1;
      u[base + 1 + n] = to;
      return;
    }
    const mine = this.decode(from, this.scratch2);
    let worst = -1;
    let worstScore = score;
    for (let i = 1; i <= n; i++) {
      const s = this.score(mine, u[base + i]!);
      if (s < worstScore) {
        worstScore = s;
        worst = i;
      }
    }
    if (worst !== -1) u[base + worst] = to;
  }

  /** HNSW's neighbour heuristic: keep a candidate only if it is closer to the node than to any neighbour already kept. */
  private selectNeighbours(sorted: Neighbour[], max: number): Neighbour[] {
    const kept: Neighbour[] = [];
    const keptVectors: Float32Array[] = [];
    for (const c of sorted) {
      if (kept.length >= max) break;
      if (keptVectors.every((k) => this.score(k, c.id) < c.score)) {
        kept.push(c);
        keptVectors.push(this.decode(c.id, new Float32Array(this.dims)));
      }
    }
    for (const c of sorted) {
      if (kept.length >= max) break;
      if (!kept.includes(c)) kept.push(c);
    }
    return kept;
  }

  /** Best-first search on one layer over slots, keeping the `ef` best seen; returns them best first. */
  private beam(query: Float32Array, entryPoints: number[], ef: number, level: number): Neighbour[] {
    if (++this.visits === 0xffffffff) {
      this.seen.fill(0);
      this.visits = 1;
    }
    const visit = this.visits;
    const seen = this.seen;
    const candidates = this.candidates; // best first
    const results = this.results; // worst first
    candidates.clear();
    results.clear();
    for (const slot of entryPoints) {
      if (seen[slot] === visit) continue;
      seen[slot] = visit;
      const s = this.score(query, slot);
      candidates.push(slot, s);
      results.push(slot, -s);
    }
    const links = level === 0 ? this.links0 : undefined;
    const stride = level === 0 ? this.m0 + 1 : this.m + 1;
    while (candidates.size > 0) {
      const score = candidates.topKey();
      const c = candidates.pop();
      if (results.size >= ef && score < -results.topKey()) break;
      const list = links ?? this.upper.get(c);
      if (!list) continue;
      const base = links ? c * stride : (level - 1) * stride;
      for (let i = 1, n = list[base]!; i <= n; i++) {
        const other = list[base + i]!;
        if (seen[other] === visit) continue;
        seen[other] = visit;
        const s = this.score(query, other);
        if (results.size < ef || s > -results.topKey()) {
          candidates.push(other, s);
          results.push(other, -s);
          if (results.size > ef) results.pop();
        }
      }
    }
    const out: Neighbour[] = new Array(results.size);
    for (let i = results.size - 1; i >= 0; i--) {
      const s = -results.topKey();
      out[i] = { id: results.pop(), score: s };
    }
    return out;
  }
}

/** Scalar quantization, one scale per vector: its largest component maps to 127. */
function quantScale(vector: Float32Array): number {
  let max = 0;
  for (let i = 0; i < vector.length; i++) max = Math.max(max, Math.abs(vector[i]!));
  return max / 127;
}

function quantize(component: number, scale: number): number {
  return scale > 0 ? Math.round(component / scale) : 0;
}

/** Bytes a snapshot may take per node at most (besides its header): what a saved file is bounded by before it is read. */
export function maxSnapshotBytesPerNode(dims: number, options: VectorIndexOptions = {}): number {
  const m = options.m ?? 16;
  // ids, scale, level, removed mark, vector, bottom links; alignment padding; and upper links as
  // if every node had one upper level (1 in M has one on average).
  return 8 + 4 + 1 + 1 + dims + (2 * m + 1) * 4 + 8 + (m + 3) * 4;
}

/** Every run of `stride` words is a count (0..max) and that many slots below n. */
function checkLinks(links: Int32Array, n: number, stride: number, max: number): boolean {
  if (links.length % stride !== 0) return false;
  for (let base = 0; base < links.length; base += stride) {
    const count = links[base]!;
    if (!(count >= 0 && count <= max)) return false;
    for (let i = 1; i <= count; i++) {
      const l = links[base + i]!;
      if (!(l >= 0 && l < n)) return false;
    }
  }
  return true;
}

/** A version-1 snapshot's nodes, checked for shape; undefined for anything that is not a whole one. */
function parseV1(
  snapshot: Int32Array,
): { entry: number; nodes: Map<number, { level: number; links: number[][] }> } | undefined {
  if (snapshot.length < 4 || snapshot[0] !== V1) return undefined;
  const count = snapshot[3]!;
  const nodes = new Map<number, { level: number; links: number[][] }>();
  let i = 4;
  for (let n = 0; n < count; n++) {
    if (i + 2 > snapshot.length) return undefined;
    const id = snapshot[i++]!;
    const level = snapshot[i++]!;
    if (level < 0 || level > MAX_LEVEL) return undefined;
    const links: number[][] = [];
    for (let l = 0; l <= level; l++) {
      const length = snapshot[i++];
      if (length === undefined || length < 0 || i + length > snapshot.length) return undefined;
      links.push(Array.from(snapshot.subarray(i, i + length)));
      i += length;
    }
    nodes.set(id, { level, links });
  }
  return i === snapshot.length ? { entry: snapshot[1]!, nodes } : undefined;
}

/** A binary max-heap of slots by key, in typed arrays (no object per entry). */
class SlotHeap {
  private keys = new Float64Array(256);
  private slots = new Int32Array(256);
  size = 0;

  clear(): void {
    this.size = 0;
  }

  topKey(): number {
    return this.keys[0]!;
  }

  push(slot: number, key: number): void {
    if (this.size === this.keys.length) {
      const keys = new Float64Array(this.size * 2);
      keys.set(this.keys);
      this.keys = keys;
      const slots = new Int32Array(this.size * 2);
      slots.set(this.slots);
      this.slots = slots;
    }
    const keys = this.keys;
    const slots = this.slots;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! >= key) break;
      keys[i] = keys[parent]!;
      slots[i] = slots[parent]!;
      i = parent;
    }
    keys[i] = key;
    slots[i] = slot;
  }

  /** Removes the top; returns its slot. */
  pop(): number {
    const keys = this.keys;
    const slots = this.slots;
    const top = slots[0]!;
    const n = --this.size;
    if (n > 0) {
      const key = keys[n]!;
      const slot = slots[n]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && keys[r]! > keys[l]! ? r : l;
        if (keys[c]! <= key) break;
        keys[i] = keys[c]!;
        slots[i] = slots[c]!;
        i = c;
      }
      keys[i] = key;
      slots[i] = slot;
    }
    return top;
  }
}
