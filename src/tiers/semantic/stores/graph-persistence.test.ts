/**
 * The HNSW graph is saved with the semantic store and restored at start instead of rebuilt:
 * the restored graph answers as the built one did, vectors gone are never returned, vectors
 * added after the last save are linked anew, and a damaged snapshot falls back to a rebuild.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../core/clock.js';
import { deriveKey } from '../../../core/key.js';
import type { Embedder } from '../embedders/embedder.js';
import { SemanticTier } from '../index.js';
import { HnswIndex } from '../vectors/hnsw.js';

/** Deterministic unit vectors from a text's digest: a stand-in for a neural model, dense like one. */
function digestVector(text: string, dims = 32): Float32Array {
  const bytes = createHash('sha512').update(text).digest();
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) v[i] = bytes[i % bytes.length]! - 127.5;
  const norm = Math.hypot(...v);
  for (let i = 0; i < dims; i++) v[i]! /= norm;
  return v;
}
const digestEmbedder: Embedder = {
  id: 'digest-32',
  embed: async (texts) => texts.map((t) => digestVector(t)),
};

const vectors = (from: number, to: number) => {
  const m = new Map<number, Float32Array>();
  for (let i = from; i < to; i++) m.set(i, digestVector(`v${i}`));
  return m;
};

describe('HnswIndex snapshot and restore', () => {
  it('a restored graph answers every query as the built one did', () => {
    const built = new HnswIndex({ exactBelow: 100 });
    const all = vectors(0, 800);
    for (const [id, v] of all) built.add(id, v);
    const snapshot = built.snapshot()!;
    expect(snapshot).toBeInstanceOf(Int32Array);
    const restored = new HnswIndex({ exactBelow: 100 });
    expect(restored.restore(all, snapshot)).toBe(0);
    for (let q = 0; q < 50; q++) {
      const query = digestVector(`query ${q}`);
      expect(restored.search(query, 5)).toEqual(built.search(query, 5));
    }
    expect(restored.snapshot()).toEqual(snapshot);
  });

  it('drops vectors gone since the snapshot and links the ones it lacks', () => {
    const built = new HnswIndex({ exactBelow: 100 });
    for (const [id, v] of vectors(0, 600)) built.add(id, v);
    const now = vectors(100, 700); // 0-99 deleted, 600-699 added since
    const restored = new HnswIndex({ exactBelow: 100 });
    // 100 dropped, 100 linked anew.
    expect(restored.restore(now, built.snapshot()!)).toBe(200);
    expect(restored.size).toBe(600);
    for (const [id, v] of now) {
      if (id % 7 !== 0) continue;
      expect(restored.search(v, 1)[0]?.id, `vector ${id} finds itself`).toBe(id);
    }
    for (let q = 0; q < 50; q++)
      for (const n of restored.search(digestVector(`q${q}`), 10)) expect(n.id).toBeGreaterThanOrEqual(100);
  });

  it('refuses a snapshot of another version, truncated or damaged, and changes nothing', () => {
    const built = new HnswIndex({ exactBelow: 10 });
    const all = vectors(0, 50);
    for (const [id, v] of all) built.add(id, v);
    const snapshot = built.snapshot()!;
    const damaged = [
      snapshot.subarray(0, snapshot.length - 3),
      Int32Array.from([99, ...snapshot.subarray(1)]),
      Int32Array.from(snapshot, (x, i) => (i === 5 ? 1_000 : x)),
      new Int32Array(0),
    ];
    for (const bad of damaged) {
      const index = new HnswIndex({ exactBelow: 10 });
      index.add(1, all.get(1)!);
      expect(index.restore(all, bad)).toBeUndefined();
      expect(index.size).toBe(1);
    }
  });
});

describe('the semantic tier keeps its graph across restarts', () => {
  const dirs: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const open = (path: string) =>
    new SemanticTier({
      embedder: digestEmbedder,
      threshold: 0.99,
      path,
      maxEntries: 10_000,
      guards: [],
      candidates: 3,
      clock: new ManualClock(),
      index: { exactBelow: 100 },
    });
  const store = async (tier: SemanticTier, from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const stored = `{"n":${i}}`;
      await tier.set(deriveKey('ns', 'model:"m"', `question number ${i}`), {
        payload: stored,
        size: stored.length,
        createdAt: 0,
        expiresAt: null,
        tags: [],
      });
    }
  };
  const finds = async (tier: SemanticTier, i: number) =>
    (await tier.get(deriveKey('ns', 'model:"m"', `question number ${i}`)))?.payload;

  it('restores the saved graph at start, links what was added after the last save, and serves both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-graph-'));
    dirs.push(dir);
    const path = join(dir, 'semantic.db');
    const first = open(path);
    await store(first, 0, 300);
    first.close();
    const saved = new Database(path, { readonly: true });
    expect(saved.prepare('SELECT count(*) FROM semantic_graphs').pluck().get()).toBe(1);
    saved.close();

    // A process that dies before saving: entries 300-339 are in the store, not in the graph.
    const second = open(path);
    await store(second, 300, 340);
    (second as unknown as { store: { db: Database.Database } }).store.db.close();

    const restore = vi.spyOn(HnswIndex.prototype, 'restore');
    const third = open(path);
    // The 40 entries stored after the last save were linked anew.
    expect(restore).toHaveReturnedWith(40);
    for (const i of [0, 150, 299, 300, 339]) expect(await finds(third, i), `entry ${i}`).toBe(`{"n":${i}}`);
    third.close();
    // That start saved its changed graph at close: the next one links nothing anew.
    restore.mockClear();
    const fourth = open(path);
    expect(restore).toHaveReturnedWith(0);
    fourth.close();
  });

  it('reports how far a rebuild has come while it indexes, and nothing when the saved graph spares it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-graph-'));
    dirs.push(dir);
    const path = join(dir, 'semantic.db');
    const first = open(path);
    await store(first, 0, 2_500);
    first.close();
    const heard = (events: Array<[string, number, number]>) =>
      new SemanticTier({
        embedder: digestEmbedder,
        threshold: 0.99,
        path,
        maxEntries: 10_000,
        guards: [],
        candidates: 3,
        clock: new ManualClock(),
        index: { exactBelow: 100 },
        onProgress: (task, done, total) => events.push([task, done, total]),
      });
    const restored: Array<[string, number, number]> = [];
    heard(restored).close();
    expect(restored).toEqual([['entries indexed', 2_500, 2_500]]); // the end only: no work to watch
    const db = new Database(path);
    db.exec('DELETE FROM semantic_graphs');
    db.close();
    const rebuilt: Array<[string, number, number]> = [];
    const tier = heard(rebuilt);
    expect(rebuilt).toEqual([
      ['entries indexed', 1_000, 2_500],
      ['entries indexed', 2_000, 2_500],
      ['entries indexed', 2_500, 2_500],
    ]);
    expect(await finds(tier, 1_234)).toBe('{"n":1234}');
    tier.close();
  });

  it('rebuilds from the entries when the saved graph is damaged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-graph-'));
    dirs.push(dir);
    const path = join(dir, 'semantic.db');
    const first = open(path);
    await store(first, 0, 200);
    first.close();
    const db = new Database(path);
    db.prepare('UPDATE semantic_graphs SET graph = ?').run(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    db.close();
    const again = open(path);
    for (const i of [0, 99, 199]) expect(await finds(again, i)).toBe(`{"n":${i}}`);
    again.close();
  });
});
