/**
 * Dense vectors (neural embeddings): nearest neighbours by cosine similarity (vectors are unit
 * length, so a dot product).
 *
 * Small partitions are searched exactly: a linear scan over a few thousand vectors costs less
 * than walking a graph, and is never wrong. Above `exactBelow` vectors the partition builds an
 * HNSW graph (Malkov & Yashunin, 2016): every vector is a node with up to M links per layer, on
 * a random number of layers (geometric, 1/ln M); a search descends greedily through the sparse
 * upper layers and then explores the dense bottom layer with a beam of `efSearch` candidates.
 *
 * Removal leaves a tombstone (the node keeps routing searches but is never returned); when
 * tombstones pass a third of the graph it is rebuilt from the live vectors.
 *
 * Building a graph costs minutes at 100k vectors, so the semantic tier persists it
 * (`snapshot`) and a new process restores it (`restore`): the stored links of vectors still
 * present are taken as they are, links to vectors gone are dropped, and only vectors the snapshot
 * does not know are linked anew.
 */

import type { Neighbour, VectorIndexOptions } from './neighbours.js';
import { dot } from './vector.js';

/** Layout of a snapshot: [version, entry, maxLevel, count, then per node: id, level, and per level its link count and links]. */
const SNAPSHOT_VERSION = 1;
/** Far above any level the geometric draw produces (P(level > 40) ~ 16^-40): a bigger one is a damaged snapshot. */
const MAX_LEVEL = 64;

interface Node {
  vector: Float32Array;
  level: number;
  links: number[][];
  removed: boolean;
  /** The search that last visited this node (`HnswIndex.visits`): a visited mark without a Set. */
  seen: number;
}

export class HnswIndex {
  private readonly nodes = new Map<number, Node>();
  private entry: number | undefined;
  private maxLevel = -1;
  private graphBuilt = false;
  private tombstones = 0;
  private readonly exactBelow: number;
  private readonly m: number;
  private readonly efConstruction: number;
  private readonly efSearch: number;
  private readonly levelFactor: number;
  private rng: () => number;
  /** Counts beam searches; a node whose `seen` equals it was visited by the current one. */
  private visits = 0;

  constructor(options: VectorIndexOptions = {}) {
    this.exactBelow = options.exactBelow ?? 2_000;
    this.m = options.m ?? 16;
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
    return this.nodes.size - this.tombstones;
  }

  add(id: number, vector: Float32Array): void {
    if (this.nodes.has(id)) this.remove(id);
    const node: Node = { vector, level: 0, links: [[]], removed: false, seen: 0 };
    this.nodes.set(id, node);
    if (this.graphBuilt) this.link(id, node, vector);
    else if (this.nodes.size >= this.exactBelow) this.buildGraph();
  }

  remove(id: number): void {
    const node = this.nodes.get(id);
    if (!node || node.removed) return;
    if (!this.graphBuilt) {
      this.nodes.delete(id);
      return;
    }
    node.removed = true;
    this.tombstones++;
    if (this.tombstones > this.nodes.size / 3) this.rebuild();
  }

  clear(): void {
    this.nodes.clear();
    this.entry = undefined;
    this.maxLevel = -1;
    this.graphBuilt = false;
    this.tombstones = 0;
  }

  /** The graph as flat integers, to persist; undefined while the index is an exact scan. */
  snapshot(): Int32Array | undefined {
    if (!this.graphBuilt || this.entry === undefined) return undefined;
    const out: number[] = [SNAPSHOT_VERSION, this.entry, this.maxLevel, 0];
    let count = 0;
    for (const [id, node] of this.nodes) {
      if (node.removed) continue;
      count++;
      out.push(id, node.level);
      for (let level = 0; level <= node.level; level++) {
        const links = node.links[level] ?? [];
        out.push(links.length);
        for (const l of links) out.push(l);
      }
    }
    out[3] = count;
    return Int32Array.from(out);
  }

  /**
   * Replaces the index with `vectors`, their links taken from a snapshot: links to ids not in
   * `vectors` are dropped and vectors the snapshot lacks are linked anew. Returns how many nodes
   * differ from the snapshot (dropped plus linked: 0 means it still describes the index), or
   * undefined, having changed nothing, when it is not one (another version, truncated, damaged).
   */
  restore(vectors: ReadonlyMap<number, Float32Array>, snapshot: Int32Array): number | undefined {
    const parsed = parseSnapshot(snapshot);
    if (!parsed) return undefined;
    this.clear();
    for (const [id, p] of parsed.nodes) {
      const vector = vectors.get(id);
      if (vector) this.nodes.set(id, { vector, level: p.level, links: p.links, removed: false, seen: 0 });
    }
    for (const node of this.nodes.values())
      node.links = node.links.map((links) => links.filter((l) => this.nodes.has(l)));
    this.graphBuilt = true;
    const entry = this.nodes.get(parsed.entry);
    if (entry) {
      this.entry = parsed.entry;
      this.maxLevel = entry.level;
    } else {
      for (const [id, node] of this.nodes) {
        if (node.level > this.maxLevel) {
          this.entry = id;
          this.maxLevel = node.level;
        }
      }
    }
    const dropped = parsed.nodes.size - this.nodes.size;
    let linked = 0;
    for (const [id, vector] of vectors) {
      if (this.nodes.has(id)) continue;
      const node: Node = { vector, level: 0, links: [[]], removed: false, seen: 0 };
      this.nodes.set(id, node);
      this.link(id, node, vector);
      linked++;
    }
    return dropped + linked;
  }

  /** Whether the vectors are linked in a graph (else they are searched by exact scan). */
  get hasGraph(): boolean {
    return this.graphBuilt;
  }

  /** The k most similar live vectors, best first. */
  search(query: Float32Array, k: number): Neighbour[] {
    if (!this.graphBuilt) return this.exact(query, k);
    if (this.entry === undefined) return [];
    let current = this.entry;
    let best = dot(query, this.nodes.get(current)!.vector);
    for (let level = this.maxLevel; level > 0; level--) {
      let improved = true;
      while (improved) {
        improved = false;
        for (const n of this.nodes.get(current)!.links[level] ?? []) {
          const s = dot(query, this.nodes.get(n)!.vector);
          if (s > best) {
            best = s;
            current = n;
            improved = true;
          }
        }
      }
    }
    const found = this.beam(query, [current], Math.max(this.efSearch, k), 0);
    const out: Neighbour[] = [];
    for (const f of found) {
      if (this.nodes.get(f.id)!.removed) continue;
      out.push(f);
      if (out.length === k) break;
    }
    return out;
  }

  private exact(query: Float32Array, k: number): Neighbour[] {
    const top: Neighbour[] = [];
    for (const [id, node] of this.nodes) {
      const s = dot(query, node.vector);
      if (top.length < k) {
        top.push({ id, score: s });
        top.sort((a, b) => b.score - a.score);
      } else if (s > top[k - 1]!.score) {
        top[k - 1] = { id, score: s };
        top.sort((a, b) => b.score - a.score);
      }
    }
    return top;
  }

  private buildGraph(): void {
    this.graphBuilt = true;
    this.entry = undefined;
    this.maxLevel = -1;
    for (const [id, node] of this.nodes) this.link(id, node, node.vector);
  }

  private rebuild(): void {
    for (const [id, node] of [...this.nodes]) if (node.removed) this.nodes.delete(id);
    this.tombstones = 0;
    this.graphBuilt = false;
    if (this.nodes.size >= this.exactBelow) this.buildGraph();
  }

  private link(id: number, node: Node, vector: Float32Array): void {
    node.level = Math.floor(-Math.log(1 - this.rng()) * this.levelFactor);
    node.links = Array.from({ length: node.level + 1 }, () => []);
    if (this.entry === undefined) {
      this.entry = id;
      this.maxLevel = node.level;
      return;
    }
    let current = this.entry;
    for (let level = this.maxLevel; level > node.level; level--) {
      current = this.beam(vector, [current], 1, level)[0]?.id ?? current;
    }
    let entryPoints = [current];
    for (let level = Math.min(node.level, this.maxLevel); level >= 0; level--) {
      const candidates = this.beam(vector, entryPoints, this.efConstruction, level);
      const max = level === 0 ? this.m * 2 : this.m;
      const chosen = this.selectNeighbours(candidates, this.m);
      node.links[level] = chosen.map((c) => c.id);
      for (const c of chosen) {
        const other = this.nodes.get(c.id)!;
        const links = other.links[level]!;
        links.push(id);
        if (links.length > max) {
          // Plain nearest-first pruning here: the heuristic's pairwise comparisons on every
          // overflow would dominate the build.
          const scored = links.map((l) => ({ id: l, score: dot(other.vector, this.nodes.get(l)!.vector) }));
          scored.sort((a, b) => b.score - a.score);
          other.links[level] = scored.slice(0, max).map((s) => s.id);
        }
      }
      entryPoints = candidates.map((c) => c.id);
    }
    if (node.level > this.maxLevel) {
      this.maxLevel = node.level;
      this.entry = id;
    }
  }

  /** HNSW's neighbour heuristic: keep a candidate only if it is closer to the node than to any neighbour already kept. */
  private selectNeighbours(sorted: Neighbour[], max: number): Neighbour[] {
    const kept: Neighbour[] = [];
    for (const c of sorted) {
      if (kept.length >= max) break;
      const cv = this.nodes.get(c.id)!.vector;
      if (kept.every((k) => dot(cv, this.nodes.get(k.id)!.vector) < c.score)) kept.push(c);
    }
    for (const c of sorted) {
      if (kept.length >= max) break;
      if (!kept.includes(c)) kept.push(c);
    }
    return kept;
  }

  /** Best-first search on one layer, keeping the `ef` best seen; returns them best first. */
  private beam(query: Float32Array, entryPoints: number[], ef: number, level: number): Neighbour[] {
    const visit = ++this.visits;
    const candidates = new Heap((a, b) => a.score > b.score); // best first
    const results = new Heap((a, b) => a.score < b.score); // worst first
    for (const id of entryPoints) {
      const node = this.nodes.get(id)!;
      node.seen = visit;
      const n = { id, score: dot(query, node.vector) };
      candidates.push(n);
      results.push(n);
    }
    while (candidates.size > 0) {
      const c = candidates.pop()!;
      if (results.size >= ef && c.score < results.peek()!.score) break;
      for (const id of this.nodes.get(c.id)!.links[level] ?? []) {
        const node = this.nodes.get(id)!;
        if (node.seen === visit) continue;
        node.seen = visit;
        const s = dot(query, node.vector);
        if (results.size < ef || s > results.peek()!.score) {
          const n = { id, score: s };
          candidates.push(n);
          results.push(n);
          if (results.size > ef) results.pop();
        }
      }
    }
    return results.drain().reverse();
  }
}

/** A snapshot's nodes, checked for shape; undefined for anything that is not a whole snapshot. */
function parseSnapshot(
  snapshot: Int32Array,
): { entry: number; nodes: Map<number, { level: number; links: number[][] }> } | undefined {
  if (snapshot.length < 4 || snapshot[0] !== SNAPSHOT_VERSION) return undefined;
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

/** A binary heap; `before(a, b)` is true when a belongs nearer the top. */
class Heap {
  private readonly items: Neighbour[] = [];
  constructor(private readonly before: (a: Neighbour, b: Neighbour) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): Neighbour | undefined {
    return this.items[0];
  }

  push(item: Neighbour): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(a[i]!, a[parent]!)) break;
      const swap = a[i]!;
      a[i] = a[parent]!;
      a[parent] = swap;
      i = parent;
    }
  }

  pop(): Neighbour | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        const swap = a[i]!;
        a[i] = a[m]!;
        a[m] = swap;
        i = m;
      }
    }
    return top;
  }

  /** Empties the heap in pop order. */
  drain(): Neighbour[] {
    const out: Neighbour[] = [];
    while (this.items.length > 0) out.push(this.pop()!);
    return out;
  }
}
