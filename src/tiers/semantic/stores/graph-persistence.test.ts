/**
 * The HNSW graph is saved with the semantic store and restored at start instead of rebuilt:
 * the restored graph answers as the built one did, vectors gone are never returned, vectors
 * added after the last save are linked anew, and a damaged snapshot falls back to a rebuild.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../core/clock.js';
import { deriveKey } from '../../../core/key.js';
import type { Embedder } from '../embedders/embedder.js';
import { SemanticTier } from '../index.js';
import { HnswIndex } from '../vectors/hnsw.js';
import { dot } from '../vectors/vector.js';
import { LocalStore } from './local-store.js';

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

/** The words of a version-1 snapshot (before the flat layout): [1, entry, maxLevel, count, then per node: id, level, per level a count and the linked ids]. */
function v1Snapshot(nodes: Array<{ id: number; links: number[] }>): Int32Array {
  const out = [1, nodes[0]!.id, 0, nodes.length];
  for (const n of nodes) out.push(n.id, 0, n.links.length, ...n.links);
  return Int32Array.from(out);
}

/** The file a store's (only) saved index is in. */
function indexFile(path: string): string {
  const db = new Database(path, { readonly: true });
  const file = db.prepare('SELECT file FROM semantic_graphs').pluck().get() as string;
  db.close();
  return join(dirname(path), file);
}

/** Bytes before the snapshot in an index file (its store, embedder, dimensions and generation). */
const FILE_HEADER = 64;

const words = (bytes: Uint8Array) => new Int32Array(bytes.buffer, bytes.byteOffset, 16);

/** The same graph as a version-1 snapshot: read from the sections of a version-2 one (hnsw.ts layout). */
function toV1(snapshot: Uint8Array): Int32Array {
  const bytes = new Uint8Array(snapshot);
  const [, , dims, n, entry, maxLevel, m, , , , upperWords] = words(bytes) as unknown as number[];
  const pad = (x: number) => (x + 7) & ~7;
  const ids = new Float64Array(bytes.buffer, 64, n!);
  const levelsAt = 64 + n! * 8 + pad(n! * 4);
  const links0At = levelsAt + 2 * pad(n!) + pad(n! * dims!);
  const links0 = new Int32Array(bytes.buffer, links0At, n! * (2 * m! + 1));
  const upper = new Int32Array(bytes.buffer, links0At + pad(links0.byteLength), upperWords!);
  const above = new Map<number, number[][]>();
  for (let i = 0; i < upper.length; ) {
    const [slot, level] = [upper[i]!, upper[i + 1]!];
    const lists: number[][] = [];
    for (let l = 0; l < level; l++) {
      const base = i + 2 + l * (m! + 1);
      lists.push(Array.from(upper.subarray(base + 1, base + 1 + upper[base]!), (s) => ids[s]!));
    }
    above.set(slot, lists);
    i += 2 + level * (m! + 1);
  }
  const out = [1, ids[entry!]!, maxLevel!, n!];
  for (let s = 0; s < n!; s++) {
    const lists = [
      Array.from(
        links0.subarray(s * (2 * m! + 1) + 1, s * (2 * m! + 1) + 1 + links0[s * (2 * m! + 1)]!),
        (x) => ids[x]!,
      ),
      ...(above.get(s) ?? []),
    ];
    out.push(ids[s]!, lists.length - 1);
    for (const list of lists) out.push(list.length, ...list);
  }
  return Int32Array.from(out);
}

describe('HnswIndex snapshot and restore', () => {
  it('a restored index answers every query as the built one did, and saves the same bytes', () => {
    const built = new HnswIndex({ exactBelow: 100 });
    const all = vectors(0, 800);
    for (const [id, v] of all) built.add(id, v);
    const snapshot = built.snapshot()!;
    expect(snapshot).toBeInstanceOf(Uint8Array);
    const restored = HnswIndex.restore(snapshot, { exactBelow: 100 })!;
    expect(restored.size).toBe(800);
    expect(restored.hasGraph).toBe(true);
    for (let q = 0; q < 50; q++) {
      const query = digestVector(`query ${q}`);
      expect(restored.search(query, 5)).toEqual(built.search(query, 5));
    }
    expect(restored.snapshot()).toEqual(snapshot);
  });

  it('keeps an exact-scan index too, and a restored index goes on adding and removing', () => {
    const small = new HnswIndex({ exactBelow: 100 });
    for (const [id, v] of vectors(0, 50)) small.add(id, v);
    const restoredSmall = HnswIndex.restore(small.snapshot()!, { exactBelow: 100 })!;
    expect(restoredSmall.hasGraph).toBe(false);
    expect(restoredSmall.search(digestVector('v7'), 1)[0]?.id).toBe(7);
    // Past exactBelow after the restore: the graph is built from the restored vectors.
    for (const [id, v] of vectors(50, 150)) restoredSmall.add(id, v);
    expect(restoredSmall.hasGraph).toBe(true);
    for (const id of [3, 77, 149]) expect(restoredSmall.search(digestVector(`v${id}`), 1)[0]?.id).toBe(id);

    const built = new HnswIndex({ exactBelow: 100 });
    for (const [id, v] of vectors(0, 600)) built.add(id, v);
    const restored = HnswIndex.restore(built.snapshot()!, { exactBelow: 100 })!;
    for (let id = 0; id < 100; id++) restored.remove(id);
    for (const [id, v] of vectors(600, 700)) restored.add(id, v);
    expect(restored.size).toBe(600);
    for (const id of [150, 599, 600, 699]) expect(restored.search(digestVector(`v${id}`), 1)[0]?.id).toBe(id);
    for (let q = 0; q < 50; q++)
      for (const n of restored.search(digestVector(`q${q}`), 10)) expect(n.id).toBeGreaterThanOrEqual(100);
    // Tombstones are saved as such.
    const again = HnswIndex.restore(restored.snapshot()!, { exactBelow: 100 })!;
    expect(again.size).toBe(600);
    expect(again.has(50)).toBe(false);
    expect(again.has(650)).toBe(true);
  });

  it('scores within 0.01 of the float dot product (int8 vectors, one scale each)', () => {
    const index = new HnswIndex({ exactBelow: 100 });
    const all = vectors(0, 300);
    for (const [id, v] of all) index.add(id, v);
    const query = digestVector('a query');
    for (const n of index.search(query, 20))
      expect(Math.abs(n.score - dot(query, all.get(n.id)!))).toBeLessThan(0.01);
  });

  it('refuses a snapshot truncated, extended, of another version or options, or with anything out of range', () => {
    const built = new HnswIndex({ exactBelow: 10 });
    for (const [id, v] of vectors(0, 200)) built.add(id, v);
    const snapshot = built.snapshot()!;
    const n = 200;
    const dims = 32;
    const altered = (change: (bytes: Uint8Array) => void) => {
      const copy = new Uint8Array(snapshot);
      change(copy);
      return copy;
    };
    // Offsets of the sections (hnsw.ts layout): header 64 bytes, ids, scales, levels, removed, vectors, links0.
    const levels = 64 + n * 8 + n * 4;
    const removed = levels + n;
    const links0 = removed + n + n * dims;
    const damaged = [
      snapshot.subarray(0, snapshot.length - 4),
      Uint8Array.from([...snapshot, 0, 0, 0, 0, 0, 0, 0, 0]),
      new Uint8Array(0),
      altered((b) => {
        words(b)[0] = 1; // a version-1 snapshot's first word
      }),
      altered((b) => {
        words(b)[1] = 3; // a version this one does not know
      }),
      altered((b) => {
        words(b)[6] = 8; // another M
      }),
      altered((b) => {
        words(b)[4] = n; // the entry point out of the graph
      }),
      altered((b) => {
        new Int32Array(b.buffer, links0, 2).set([1, n + 5]); // a link out of the graph
      }),
      altered((b) => {
        new Int32Array(b.buffer, links0, 1)[0] = 33; // more links than a node holds
      }),
      altered((b) => {
        b[levels + 3] = 70; // a level no draw produces
      }),
      altered((b) => {
        b[removed + 3] = 2; // a tombstone flag that is neither
      }),
      altered((b) => {
        b[removed + 3] = 1; // a tombstone the header does not count
      }),
      altered((b) => {
        new Float64Array(b.buffer, 64, 1)[0] = 0.5; // an id that is no row id
      }),
    ];
    for (const [i, bad] of damaged.entries())
      expect(HnswIndex.restore(bad, { exactBelow: 10 }), `damage ${i}`).toBeUndefined();
    // Another M is another index: refused by the options too.
    expect(HnswIndex.restore(snapshot, { m: 8 })).toBeUndefined();
    expect(HnswIndex.restore(snapshot, { exactBelow: 10 })?.size).toBe(n);
  });

  it('converts a version-1 snapshot given its vectors, dropping links to vectors gone', () => {
    const all = vectors(0, 300);
    const ids = [...all.keys()];
    const links = (id: number) => [1, 2, 3, 5, 8].map((d) => ids[(id + d) % ids.length]!);
    const snapshot = v1Snapshot(ids.map((id) => ({ id, links: [...links(id), 999] })));
    const now = new Map([...all].filter(([id]) => id >= 10));
    now.set(300, digestVector('v300'));
    const converted = HnswIndex.fromLinks(snapshot, now, { exactBelow: 10 })!;
    expect(converted.dropped).toBe(10);
    expect(converted.missing).toEqual([300]);
    expect(converted.index.size).toBe(290);
    expect(HnswIndex.fromLinks(snapshot.subarray(0, snapshot.length - 1), now)).toBeUndefined();
  });
});

describe('the semantic tier keeps its graph across restarts', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  // Every index in a file, however small (the store's default keeps those under 1 MiB in its table).
  const open = (path: string, onWarning?: (message: string) => void) =>
    new SemanticTier({
      embedder: digestEmbedder,
      threshold: 0.99,
      path,
      maxEntries: 10_000,
      guards: [],
      candidates: 3,
      clock: new ManualClock(),
      index: { exactBelow: 100 },
      store: new LocalStore({
        path,
        embedderId: digestEmbedder.id,
        maxEntries: 10_000,
        index: { exactBelow: 100 },
        indexFileBytes: 0,
        onWarning: onWarning ?? (() => {}),
      }),
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
  /** A new store of `count` entries, closed (its index saved): its folder and file. */
  const filled = async (count: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-graph-'));
    dirs.push(dir);
    const path = join(dir, 'semantic.db');
    const first = open(path);
    await store(first, 0, count);
    first.close();
    return { dir, path };
  };
  const finds = async (tier: SemanticTier, i: number) =>
    (await tier.get(deriveKey('ns', 'model:"m"', `question number ${i}`)))?.payload;

  const report = (tier: SemanticTier) => (tier as unknown as { store: LocalStore }).store.loadReport;
  const nearest = (tier: SemanticTier, q: string) =>
    (tier as unknown as { store: LocalStore }).store.nearest(
      (tier as unknown as { store: { partitions: Map<string, unknown> } }).store.partitions.keys().next()
        .value!,
      digestVector(q),
      5,
    );

  it('restores the saved index at start, links what was added after the last save, and serves both', async () => {
    const { path } = await filled(300);
    const saved = new Database(path, { readonly: true });
    expect(saved.prepare('SELECT count(*) FROM semantic_graphs').pluck().get()).toBe(1);
    saved.close();

    // A process that dies before saving: entries 300-339 are in the store, not in the index.
    const second = open(path);
    expect(report(second)).toMatchObject({ path: 'saved', linked: 0, dropped: 0 });
    await store(second, 300, 340);
    (second as unknown as { store: { db: Database.Database } }).store.db.close();

    const third = open(path);
    // The saved index is of an older generation: the rows were read, the 40 stored after the last save linked anew.
    expect(report(third)).toMatchObject({ path: 'rows', linked: 40, dropped: 0 });
    for (const i of [0, 150, 299, 300, 339]) expect(await finds(third, i), `entry ${i}`).toBe(`{"n":${i}}`);
    third.close();
    // That start saved its changed index at close: the next one reads no row and links nothing.
    const fourth = open(path);
    expect(report(fourth)).toMatchObject({ path: 'saved', linked: 0, dropped: 0 });
    for (const i of [0, 339]) expect(await finds(fourth, i), `entry ${i}`).toBe(`{"n":${i}}`);
    expect((await fourth.stats()).entries).toBe(340);
    fourth.close();
  });

  it('a restart answers exactly as before it, from the saved index alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-graph-'));
    dirs.push(dir);
    const path = join(dir, 'semantic.db');
    const first = open(path);
    await store(first, 0, 500);
    const queries = Array.from({ length: 30 }, (_, q) => `query ${q}`);
    const before = queries.map((q) => nearest(first, q));
    first.close();
    const again = open(path);
    expect(report(again).path).toBe('saved');
    expect(queries.map((q) => nearest(again, q))).toEqual(before);
    again.close();
  });

  it('reads the rows again when another writer changed them since the save, and never returns what it deleted', async () => {
    const { path } = await filled(300);
    // Another process (or an older Strata, or a hand edit) deletes an entry and marks one bad.
    const other = new Database(path);
    const hashOf = (i: number) => deriveKey('ns', 'model:"m"', `question number ${i}`).hash;
    other.prepare('DELETE FROM semantic_entries WHERE hash = ?').run(hashOf(10));
    other.prepare('UPDATE semantic_entries SET bad = 1 WHERE hash = ?').run(hashOf(20));
    other.close();
    const again = open(path);
    expect(report(again)).toMatchObject({ path: 'rows', dropped: 2, linked: 0 });
    expect(await finds(again, 10)).toBeUndefined();
    expect(await finds(again, 20)).toBeUndefined();
    expect(await finds(again, 11)).toBe('{"n":11}');
    expect((await again.stats()).entries).toBe(298);
    again.close();
    // Saved at that close with the generation it matches (even had nothing changed): the next start reads no row.
    const next = open(path);
    expect(report(next)).toMatchObject({ path: 'saved', dropped: 0, linked: 0 });
    expect(await finds(next, 10)).toBeUndefined();
    next.close();
    const untouched = open(path);
    expect(report(untouched).path).toBe('saved');
    untouched.close();
  });

  it('a saved index without a generation (written by an older Strata) is checked against the rows once', async () => {
    const { path } = await filled(300);
    const db = new Database(path);
    db.exec('UPDATE semantic_graphs SET generation = NULL');
    db.close();
    const checked = open(path);
    expect(report(checked)).toMatchObject({ path: 'rows', dropped: 0, linked: 0 });
    checked.close();
    const next = open(path);
    expect(report(next).path).toBe('saved');
    expect(await finds(next, 123)).toBe('{"n":123}');
    next.close();
  });

  it('a crafted index of the current generation costs misses, never a wrong answer', async () => {
    const { path } = await filled(300);
    // Every node's id moved to the next node: each vector now claims another entry's row.
    const file = indexFile(path);
    const bytes = new Uint8Array(readFileSync(file));
    const ids = new Float64Array(bytes.buffer, FILE_HEADER + 64, 300);
    const shifted = Float64Array.from(ids, (_, i) => ids[(i + 1) % 300]!);
    ids.set(shifted);
    writeFileSync(file, bytes);
    const again = open(path);
    expect(report(again).path).toBe('saved');
    for (let i = 0; i < 300; i += 7) {
      const found = await finds(again, i);
      if (found !== undefined) expect(found).toBe(`{"n":${i}}`);
    }
    // The scores a lookup sees are those of the stored vectors, not of the crafted index.
    for (const c of nearest(again, 'question number 5')) expect(c.score).toBeLessThanOrEqual(1 + 1e-6);
    again.close();
  });

  it('converts a version-1 graph (before the flat index) at the first start, and saves it in the new form', async () => {
    const { path } = await filled(400);
    const snapshot = toV1(new Uint8Array(readFileSync(indexFile(path)).subarray(FILE_HEADER)));
    const db = new Database(path);
    // As an older Strata saved it: in the row, no file, no generation.
    db.prepare('UPDATE semantic_graphs SET graph = ?, generation = NULL, file = NULL').run(
      Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength),
    );
    db.close();
    const migrated = open(path);
    expect(report(migrated).path).toBe('rows');
    for (const i of [0, 199, 399]) expect(await finds(migrated, i)).toBe(`{"n":${i}}`);
    migrated.close();
    const saved = readFileSync(indexFile(path));
    expect(saved.readInt32LE(FILE_HEADER)).not.toBe(1);
    const again = open(path);
    expect(report(again).path).toBe('saved');
    for (const i of [0, 199, 399]) expect(await finds(again, i)).toBe(`{"n":${i}}`);
    again.close();
  });

  it('keeps an index under 1 MiB in its table, and restores it from there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-graph-'));
    dirs.push(dir);
    const path = join(dir, 'semantic.db');
    const tier = (p: string) =>
      new SemanticTier({
        embedder: digestEmbedder,
        threshold: 0.99,
        path: p,
        maxEntries: 10_000,
        guards: [],
        candidates: 3,
        clock: new ManualClock(),
        index: { exactBelow: 100 },
      });
    const first = tier(path);
    await store(first, 0, 300);
    first.close();
    expect(readdirSync(dir).filter((f) => f.includes('.index-'))).toEqual([]);
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT file IS NULL AND length(graph) > 0 FROM semantic_graphs').pluck().get()).toBe(
      1,
    );
    db.close();
    const again = tier(path);
    expect(report(again).path).toBe('saved');
    expect(await finds(again, 42)).toBe('{"n":42}');
    again.close();
  });

  it('a replaced entry becomes the newest: beyond maxEntries the oldest others go first, across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-graph-'));
    dirs.push(dir);
    const path = join(dir, 'semantic.db');
    const tier = () =>
      new SemanticTier({
        embedder: digestEmbedder,
        threshold: 0.99,
        path,
        maxEntries: 3,
        guards: [],
        candidates: 3,
        clock: new ManualClock(),
        index: { exactBelow: 100 },
      });
    const first = tier();
    await store(first, 0, 3);
    await store(first, 0, 1); // 0 replaced: now the newest
    first.close();
    const again = tier();
    expect((await again.stats()).entries).toBe(3);
    await store(again, 3, 4); // one over: the oldest, 1, goes
    expect(await finds(again, 1)).toBeUndefined();
    for (const i of [0, 2, 3]) expect(await finds(again, i), `entry ${i}`).toBe(`{"n":${i}}`);
    expect((await again.stats()).entries).toBe(3);
    again.close();
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

  it('rebuilds from the entries when the saved index is damaged, gone, or named out of place', async () => {
    const { dir, path } = await filled(200);
    const damages: Array<() => void> = [
      () => writeFileSync(indexFile(path), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])),
      () => truncateSync(indexFile(path), 1_000),
      () => rmSync(indexFile(path)),
      () => {
        // A row naming a file elsewhere is not read: a valid index there changes nothing.
        const elsewhere = join(dir, 'elsewhere.bin');
        renameSync(indexFile(path), elsewhere);
        const db = new Database(path);
        db.prepare('UPDATE semantic_graphs SET file = ?').run('../elsewhere.bin');
        db.close();
      },
      () => {
        rmSync(indexFile(path));
        const db = new Database(path);
        db.prepare('UPDATE semantic_graphs SET file = NULL, graph = ?').run(
          Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]),
        );
        db.close();
      },
    ];
    for (const [d, damage] of damages.entries()) {
      damage();
      const again = open(path);
      expect(report(again).path, `damage ${d}`).toBe('rows');
      for (const i of [0, 99, 199]) expect(await finds(again, i), `damage ${d}`).toBe(`{"n":${i}}`);
      again.close();
      // Saved again at that close: one index file, the one its row names.
      expect(readdirSync(dir).filter((f) => f.startsWith('semantic.db.index-'))).toEqual([
        basename(indexFile(path)),
      ]);
    }
  });
  /** Store A (questions 0-299) and store C beside it (other questions, `otherCount` of them), each with its index file. */
  const twoStores = async (otherCount: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-graph-'));
    dirs.push(dir);
    const path = join(dir, 'a.db');
    const other = join(dir, 'c.db');
    const a = open(path);
    await store(a, 0, 300);
    a.close();
    const c = open(other);
    await store(c, 1_000, 1_000 + otherCount);
    c.close();
    return { dir, path, other };
  };
  const answersAll = async (tier: SemanticTier) => {
    let found = 0;
    for (let i = 0; i < 300; i++) if ((await finds(tier, i)) === `{"n":${i}}`) found++;
    return found;
  };

  for (const [what, otherCount] of [
    ['of the same entry count and generation', 300],
    ['of another generation', 299],
  ] as const) {
    it(`another store's index file ${what}, copied over this one's, is not used: rebuilt, said once`, async () => {
      const { path, other } = await twoStores(otherCount);
      const file = indexFile(path);
      copyFileSync(indexFile(other), file);
      const warnings: string[] = [];
      const again = open(path, (m) => warnings.push(m));
      expect(report(again)).toMatchObject({ path: 'rows', refused: 1 });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(basename(file));
      expect(await answersAll(again)).toBe(300);
      again.close();
      // Saved again at that close, as this store's: the next start takes it as it is.
      const next = open(path, (m) => warnings.push(m));
      expect(report(next)).toMatchObject({ path: 'saved', refused: 0 });
      expect(await answersAll(next)).toBe(300);
      next.close();
      expect(warnings).toHaveLength(1);
    });
  }

  it('a saved index whose nodes hold other vectors than their rows is rebuilt when the rows are read', async () => {
    // As if crafted to pass the header: another store's index under this store's id, its row untagged.
    const { path, other } = await twoStores(300);
    const db = new Database(path);
    const storeId = new Database(other, { readonly: true });
    db.prepare("UPDATE semantic_meta SET value = ? WHERE key = 'store_id'").run(
      storeId.prepare("SELECT value FROM semantic_meta WHERE key = 'store_id'").pluck().get(),
    );
    storeId.close();
    db.prepare('UPDATE semantic_graphs SET generation = NULL').run();
    db.close();
    copyFileSync(indexFile(other), indexFile(path));
    const warnings: string[] = [];
    const again = open(path, (m) => warnings.push(m));
    expect(report(again)).toMatchObject({ path: 'rows', refused: 0, mismatched: 300, rebuilt: 1 });
    expect(warnings).toHaveLength(1);
    expect(await answersAll(again)).toBe(300);
    again.close();
  });

  it('an index file that is a symlink to /dev/zero, or larger than any index of the store, is refused unread', async () => {
    const { path } = await twoStores(1);
    const file = indexFile(path);
    rmSync(file);
    symlinkSync('/dev/zero', file);
    const warnings: string[] = [];
    const zero = open(path, (m) => warnings.push(m));
    expect(report(zero)).toMatchObject({ path: 'rows', refused: 1, savedBytes: 0 });
    expect(await answersAll(zero)).toBe(300);
    // Closed without saving, so that the same file name is still the one its row names.
    (zero as unknown as { store: { db: Database.Database } }).store.db.close();
    rmSync(file);
    // Sparse: 64 GiB of nothing on disk; read whole it would never fit in memory.
    writeFileSync(file, '');
    truncateSync(file, 2 ** 36);
    const huge = open(path, (m) => warnings.push(m));
    expect(report(huge)).toMatchObject({ path: 'rows', refused: 1, savedBytes: 0 });
    expect(await answersAll(huge)).toBe(300);
    huge.close();
    expect(warnings).toHaveLength(2);
    expect(warnings.every((w) => w.includes(basename(file)))).toBe(true);
  });
});
