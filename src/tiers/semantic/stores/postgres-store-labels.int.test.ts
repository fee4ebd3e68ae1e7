import { describe, expect, it } from 'vitest';
import { semanticTables } from '../../../../test/support/pg-semantic-tables.js';
import { type Label, type LoggedLabel, scopeOf } from '../bound/labels.js';
import { PostgresStore } from './postgres-store.js';
import { MAX_LABELS } from './store.js';

const { url, raw, stores, freshPrefix } = semanticTables<PostgresStore>('l', 3);

/** One process of the fleet: its own pool on the shared tables. */
function open(tablePrefix: string): PostgresStore {
  const store = new PostgresStore({
    url,
    poolSize: 2,
    connectTimeoutMs: 2_000,
    tablePrefix,
    embedderId: 'labels-test-embedder',
    maxEntries: 1_000,
  });
  stores.push(store);
  return store;
}

const labelTable = (store: PostgresStore) => (store as unknown as { labels: string }).labels;

function label(i: number, overrides: Partial<Label> = {}): Label {
  return {
    scope: scopeOf('acme', 'llm'),
    namespace: 'acme',
    entry: `entry-${i}`,
    similarity: 0.9 - i / 1_000,
    wrong: i % 3 === 0,
    source: 'exploration',
    at: 1_700_000_000_000 + i,
    ...overrides,
  };
}

const bare = (logged: readonly LoggedLabel[]): Label[] => logged.map(({ id: _, ...rest }) => rest);

/** Follows the log as a learner would: from the last id it was given, until it holds `count` labels. */
async function follow(store: PostgresStore, count: number, seen: LoggedLabel[] = []): Promise<LoggedLabel[]> {
  await expect
    .poll(
      async () => {
        const next = await store.labelsAfter(seen.at(-1)?.id ?? 0, 100);
        seen.push(...next);
        return seen.length;
      },
      { timeout: 10_000, interval: 100 },
    )
    .toBeGreaterThanOrEqual(count);
  return seen;
}

async function put(store: PostgresStore, hash: string): Promise<void> {
  await store.put(
    {
      hash,
      namespace: 'acme',
      llmString: 'llm',
      prompt: 'p',
      query: 'q',
      context: '',
      partition: 'acme-llm',
      createdAt: 0,
      expiresAt: null,
      tags: [],
      size: 1,
    },
    new Float32Array([1, 0, 0]),
    '{}',
  );
}

describe('PostgresStore labels', () => {
  it('two processes of a fleet share one log: appended by either, read by both in the same order', async () => {
    const tablePrefix = freshPrefix();
    const a = open(tablePrefix);
    const b = open(tablePrefix);
    // Nothing stored yet: no table, no labels, no error.
    expect(await b.labelsAfter(0, 10)).toEqual([]);
    // A label before the entries table: its table is created by the append.
    await a.appendLabels([label(1), label(2)]);
    const seenByB = await follow(b, 2);
    expect(bare(seenByB)).toEqual([label(1), label(2)]);
    // The entries table comes later, next to the labels.
    await put(a, 'h1');
    await b.appendLabels([label(3), label(4), label(5)]);
    await a.appendLabels([label(6)]);
    const seenByA = await follow(a, 6);
    await follow(b, 6, seenByB);
    expect(bare(seenByA)).toEqual([1, 2, 3, 4, 5, 6].map((i) => label(i)));
    expect(seenByB).toEqual(seenByA);
    // limit and after.
    expect(await a.labelsAfter(seenByA[1]!.id, 2)).toEqual(seenByA.slice(2, 4));
  });

  it('the label table is created with the entries table; reading it empty gives none', async () => {
    const tablePrefix = freshPrefix();
    const store = open(tablePrefix);
    await put(store, 'h1');
    const { rows } = await raw.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [
      labelTable(store),
    ]);
    expect(rows[0]!.found).not.toBeNull();
    expect(await store.labelsAfter(0, 10)).toEqual([]);
  });

  it('a label committed after a later one was appended is not passed over', async () => {
    const tablePrefix = freshPrefix();
    const writer = open(tablePrefix);
    const reader = open(tablePrefix);
    await writer.appendLabels([label(0)]);
    const seen = await follow(reader, 1);
    // A process takes the next id and has not committed yet when another appends after it.
    const late = await raw.connect();
    try {
      await late.query('BEGIN');
      await late.query(
        `INSERT INTO ${labelTable(writer)} (scope, namespace, entry, similarity, wrong, source, at)
         VALUES ($1, 'acme', 'late', 0.5, true, 'free', 1)`,
        [scopeOf('acme', 'llm')],
      );
      await writer.appendLabels([label(2)]);
      // The reader looks meanwhile: the label appended after the uncommitted one is not settled yet.
      seen.push(...(await reader.labelsAfter(seen.at(-1)!.id, 100)));
      await late.query('COMMIT');
    } finally {
      late.release();
    }
    const all = await follow(reader, 3, seen);
    expect(all.map((l) => l.entry)).toEqual(['entry-0', 'late', 'entry-2']);
  });

  it('skips crafted rows, which do not use up the limit, and never throws', async () => {
    const tablePrefix = freshPrefix();
    const store = open(tablePrefix);
    await store.appendLabels([label(1)]);
    const table = labelTable(store);
    for (const [similarity, source] of [
      [2, 'free'],
      [-1.5, 'free'],
      ['NaN', 'free'],
      ['Infinity', 'free'],
      ['-Infinity', 'free'],
      [0.5, 'oracle'],
      [0.5, ''],
    ] as const)
      await raw.query(
        `INSERT INTO ${table} (scope, namespace, entry, similarity, wrong, source, at) VALUES ('s', 'acme', 'e', $1, false, $2, 1)`,
        [similarity, source],
      );
    // An at beyond what a JS number holds exactly.
    await raw.query(
      `INSERT INTO ${table} (scope, namespace, entry, similarity, wrong, source, at) VALUES ('s', 'acme', 'e', 0.5, false, 'free', 9223372036854775807)`,
    );
    // A label the store refuses to write: left out, the rest of the batch kept.
    await store.appendLabels([label(2, { similarity: Number.NaN }), label(3), label(4, { at: 1.5 })]);
    const seen = await follow(store, 2);
    expect(bare(seen)).toEqual([label(1), label(3)]);
    expect(bare(await store.labelsAfter(0, 2))).toEqual([label(1), label(3)]);
  });

  it('a purge keeps the newest MAX_LABELS, also before the entries table exists', async () => {
    const tablePrefix = freshPrefix();
    const store = open(tablePrefix);
    await store.appendLabels([label(0)]);
    const table = labelTable(store);
    await raw.query(
      `INSERT INTO ${table} (scope, namespace, entry, similarity, wrong, source, at)
       SELECT 's', 'acme', 'e' || i, 0.5, false, 'free', i FROM generate_series(1, $1::int) AS i`,
      [MAX_LABELS],
    );
    await store.appendLabels([label(1), label(2), label(3)]);
    const count = async () =>
      Number((await raw.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
    // A removal that is not a purge does not trim.
    expect(await store.remove({ namespace: 'nobody' })).toBe(0);
    expect(await count()).toBe(MAX_LABELS + 4);
    expect(await store.remove({ expiredAt: Date.now() })).toBe(0);
    expect(await count()).toBe(MAX_LABELS);
    const { rows } = await raw.query<{ entry: string }>(`SELECT entry FROM ${table} ORDER BY id LIMIT 1`);
    expect(rows[0]!.entry).toBe('e4');
    // With the entries table there too.
    await put(store, 'h1');
    await store.appendLabels([label(4)]);
    await store.remove({ expiredAt: Date.now() });
    expect(await count()).toBe(MAX_LABELS);
    const newest = await raw.query<{ entry: string }>(`SELECT entry FROM ${table} ORDER BY id DESC LIMIT 4`);
    expect(newest.rows.map((r) => r.entry)).toEqual(['entry-4', 'entry-3', 'entry-2', 'entry-1']);
  });

  it('namespaces, scopes and entries round-trip exactly: U+0000, lone surrogates, emoji, Chinese, %', async () => {
    const tablePrefix = freshPrefix();
    const store = open(tablePrefix);
    const odd = ['a\u0000b', '\ud800x\udfff', 'tenant 🚀🦄', '租户-中文', '%0000', ''];
    const labels = odd.map((namespace, i) =>
      label(i, { namespace, scope: scopeOf(namespace, `llm\u0000${namespace}`), entry: namespace }),
    );
    await store.appendLabels(labels);
    expect(bare(await follow(open(tablePrefix), labels.length))).toEqual(labels);
  });
});
