/**
 * The local store's label log (bound/labels.ts): kept in the store's SQLite file, read back in
 * append order, per embedder, trimmed to the newest MAX_LABELS at each purge, and never feeding
 * the learner a malformed row.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Label, scopeOf } from '../bound/labels.js';
import { LocalStore, type LocalStoreOptions } from './local-store.js';
import { MAX_LABELS } from './store.js';

let dir: string;
let path: string;
const stores: LocalStore[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-labels-'));
  path = join(dir, 'semantic.db');
});
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(options: Partial<LocalStoreOptions> = {}): LocalStore {
  const store = new LocalStore({ path, embedderId: 'model-a', maxEntries: 1_000, ...options });
  stores.push(store);
  return store;
}

function label(i: number, overrides: Partial<Label> = {}): Label {
  return {
    scope: scopeOf('acme', 'llm'),
    namespace: 'acme',
    entry: `entry-${i}`,
    similarity: 0.9 - i / 1_000,
    wrong: i % 3 === 0,
    source: 'free',
    at: 1_700_000_000_000 + i,
    ...overrides,
  };
}

/** The labels without their ids, to compare with what was appended. */
const bare = (logged: readonly Label[]) => logged.map(({ id: _, ...rest }: Label & { id?: number }) => rest);

describe('LocalStore labels', () => {
  it('reads back what was appended, in order, after an id and up to a limit', () => {
    const store = open();
    const labels = Array.from({ length: 10 }, (_, i) =>
      label(i, { source: (['free', 'exploration', 'feedback', 'background'] as const)[i % 4] }),
    );
    store.appendLabels(labels.slice(0, 4));
    store.appendLabels([]);
    store.appendLabels(labels.slice(4));
    const all = store.labelsAfter(0, 100);
    expect(bare(all)).toEqual(labels);
    const ids = all.map((l) => l.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(bare(store.labelsAfter(0, 3))).toEqual(labels.slice(0, 3));
    expect(bare(store.labelsAfter(ids[5]!, 3))).toEqual(labels.slice(6, 9));
    expect(store.labelsAfter(ids.at(-1)!, 100)).toEqual([]);
    expect(store.labelsAfter(0, 0)).toEqual([]);
  });

  it('keeps them in the file: a store opened again reads them with the same ids', () => {
    const first = open();
    first.appendLabels([label(1), label(2)]);
    const before = first.labelsAfter(0, 10);
    first.close();
    const again = open();
    expect(again.labelsAfter(0, 10)).toEqual(before);
    again.appendLabels([label(3)]);
    const after = again.labelsAfter(0, 10);
    expect(bare(after)).toEqual([label(1), label(2), label(3)]);
    expect(after[2]!.id).toBeGreaterThan(after[1]!.id);
  });

  it('a file of schema 2, from before labels, gains the table and keeps its entries', () => {
    const db = new Database(path);
    db.exec(`CREATE TABLE semantic_entries (
      id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, namespace TEXT NOT NULL, llm_string TEXT NOT NULL,
      prompt TEXT NOT NULL, embedder TEXT NOT NULL, vector BLOB NOT NULL, payload TEXT NOT NULL,
      size INTEGER NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER, tags TEXT NOT NULL,
      bad INTEGER NOT NULL DEFAULT 0, query TEXT, context TEXT)`);
    db.prepare(
      `INSERT INTO semantic_entries (hash, namespace, llm_string, prompt, embedder, vector, payload, size, created_at, tags, query, context)
       VALUES ('h1', 'acme', 'llm', 'p', 'model-a', ?, '{"v":1}', 7, 0, '[]', 'q', '')`,
    ).run(Buffer.from(new Float32Array([1, 0]).buffer));
    db.pragma('user_version = 2');
    db.close();
    const store = open();
    expect(store.payload('h1')).toBe('{"v":1}');
    store.appendLabels([label(1)]);
    expect(bare(store.labelsAfter(0, 10))).toEqual([label(1)]);
  });

  it('another embedder reads none of them, and its own from the same file', () => {
    const a = open();
    a.appendLabels([label(1), label(2)]);
    const b = open({ embedderId: 'model-b' });
    expect(b.labelsAfter(0, 10)).toEqual([]);
    b.appendLabels([label(3)]);
    expect(bare(b.labelsAfter(0, 10))).toEqual([label(3)]);
    expect(bare(a.labelsAfter(0, 10))).toEqual([label(1), label(2)]);
  });

  it('a readonly store appends nothing, silently', () => {
    open().appendLabels([label(1)]);
    const inspecting = open({ readonly: true });
    expect(() => inspecting.appendLabels([label(2)])).not.toThrow();
    expect(bare(inspecting.labelsAfter(0, 10))).toEqual([label(1)]);
  });

  it('each purge keeps the newest MAX_LABELS of this embedder, and ids go on growing', () => {
    const store = open();
    // Filled with raw SQL: appending 200k labels one by one only makes the test slow.
    const db = new Database(path);
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO semantic_labels (embedder, scope, namespace, entry, similarity, wrong, source, at)
       SELECT 'model-a', 's', 'acme', 'e' || i, 0.5, 0, 'free', i FROM n`,
    ).run(MAX_LABELS);
    db.prepare(
      `INSERT INTO semantic_labels (embedder, scope, namespace, entry, similarity, wrong, source, at)
       VALUES ('model-b', 's', 'acme', 'other', 0.5, 0, 'free', 0)`,
    ).run();
    db.close();
    store.appendLabels([label(1), label(2), label(3)]);
    // Only a purge trims (expiredAt); a removal by namespace does not.
    store.remove({ namespace: 'nobody' });
    const count = (embedder: string) => {
      const reader = new Database(path, { readonly: true });
      try {
        return reader
          .prepare('SELECT count(*) FROM semantic_labels WHERE embedder = ?')
          .pluck()
          .get(embedder);
      } finally {
        reader.close();
      }
    };
    expect(count('model-a')).toBe(MAX_LABELS + 3);
    store.remove({ expiredAt: Date.now() });
    expect(count('model-a')).toBe(MAX_LABELS);
    // The other embedder's label is not this store's to trim.
    expect(count('model-b')).toBe(1);
    const first = store.labelsAfter(0, 1)[0]!;
    expect(first.entry).toBe('e4');
    const newest = store.labelsAfter(0, MAX_LABELS).slice(-3);
    expect(bare(newest)).toEqual([label(1), label(2), label(3)]);
    store.appendLabels([label(4)]);
    const last = store.labelsAfter(newest[2]!.id, 10);
    expect(bare(last)).toEqual([label(4)]);
  });

  it('skips crafted or damaged rows without throwing, and they do not use up the limit', () => {
    const store = open();
    store.appendLabels([label(1)]);
    const db = new Database(path);
    const insert = db.prepare(
      `INSERT INTO semantic_labels (embedder, scope, namespace, entry, similarity, wrong, source, at)
       VALUES ('model-a', @scope, @namespace, @entry, @similarity, @wrong, @source, @at)`,
    );
    const good = {
      scope: 's',
      namespace: 'acme',
      entry: 'e',
      similarity: 0.5,
      wrong: 0,
      source: 'free',
      at: 1,
    };
    // Text columns turn a number into text (SQLite's affinity): a blob is what stays the wrong type.
    for (const bad of [
      { similarity: 1.5 },
      { similarity: -1.01 },
      { similarity: 'high' },
      { similarity: Number.POSITIVE_INFINITY },
      { similarity: Buffer.from([1]) },
      { source: 'oracle' },
      { source: 'FREE' },
      { wrong: 2 },
      { wrong: 'yes' },
      { scope: Buffer.from('s') },
      { namespace: Buffer.from('acme') },
      { entry: Buffer.from('e') },
      { at: 'yesterday' },
      { at: 1.5 },
      { at: 2n ** 62n },
    ])
      insert.run({ ...good, ...bad });
    db.close();
    store.appendLabels([label(2)]);
    expect(bare(store.labelsAfter(0, 2))).toEqual([label(1), label(2)]);
  });

  it('leaves out a label it could not read back, and keeps the others of the batch', () => {
    const store = open();
    store.appendLabels([
      label(1),
      label(2, { similarity: Number.NaN }),
      label(3, { similarity: 1.0001 }),
      label(4, { source: 'oracle' as Label['source'] }),
      label(5, { at: Number.POSITIVE_INFINITY }),
      label(6),
    ]);
    expect(bare(store.labelsAfter(0, 10))).toEqual([label(1), label(6)]);
  });

  it('namespaces, scopes and entries round-trip exactly: U+0000, lone surrogates, emoji, Chinese', () => {
    const store = open();
    const odd = ['a\u0000b', '\ud800x\udfff', 'tenant 🚀🦄', '租户-中文', '%0000', ''];
    const labels = odd.map((namespace, i) =>
      label(i, { namespace, scope: scopeOf(namespace, `llm\u0000${namespace}`), entry: namespace }),
    );
    store.appendLabels(labels);
    store.close();
    expect(bare(open().labelsAfter(0, 100))).toEqual(labels);
  });
});
