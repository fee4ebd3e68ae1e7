/**
 * The local semantic store: vectors and questions live in memory (one VectorIndex per
 * partition); payloads, vectors and questions persist in a SQLite file and are loaded back at
 * start. Vectors of another embedder, or from before questions were split out (schema 1: whole
 * prompts), stay on disk unloaded.
 *
 * Each partition's HNSW graph is saved with the store (every GRAPH_SAVE_CHANGES changes and at
 * close) and restored at start instead of being rebuilt: minutes at 100k entries, against
 * seconds to read them (vectors/hnsw.ts).
 *
 * The label log of the learned error bound (bound/labels.ts) is a table of the same file, one
 * embedder column value per embedder: labels of another embedder are never read back (a model
 * change starts learning afresh), and each embedder keeps its newest MAX_LABELS. Their text is
 * stored escaped (label-rows.ts): SQLite keeps text as UTF-8, where lone surrogates would all
 * become U+FFFD and two namespaces could share a scope.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ListedEntry } from '../../../core/tier.js';
import { SqliteOpenError } from '../../../errors.js';
import { retryWhileBusy } from '../../kit/sqlite-busy.js';
import { LABEL_SOURCES, type Label, type LoggedLabel } from '../bound/labels.js';
import { vectorFromBytes, vectorToBytes } from '../vectors/bytes.js';
import type { VectorIndexOptions } from '../vectors/neighbours.js';
import type { Vector } from '../vectors/vector.js';
import { VectorIndex } from '../vectors/vector-index.js';
import { labelColumns, rowLabel, storable } from './label-rows.js';
import {
  type Candidate,
  MAX_LABELS,
  partitionOf,
  type Question,
  type Selection,
  type SemanticStore,
  type StoreCounts,
  type StoredTexts,
} from './store.js';

export interface LocalStoreOptions {
  path: string;
  /** Only this embedder's vectors are loaded and searched. */
  embedderId: string;
  /** The oldest entries are dropped beyond this many. */
  maxEntries: number;
  index?: VectorIndexOptions;
  /** Inspecting commands: the saved graphs and the labels are not written. */
  readonly?: boolean;
  /** A failure outside a call (saving the graphs): counted and logged like one. */
  onClientError?: (error: Error) => void;
  /** How far indexing at open has come, when no saved graph spares the work. */
  onProgress?: (task: string, done: number, total: number) => void;
}

interface Item {
  id: number;
  hash: string;
  partition: string;
  namespace: string;
  prompt: string;
  query: string;
  expiresAt: number | null;
  tags: string[];
  size: number;
}

const SCHEMA_VERSION = 2;
/** What indexing at open counts (TierContext.onProgress). */
const INDEXED = 'entries indexed';
/**
 * semantic_labels came after schema 2 without a new version: it is only added (CREATE TABLE IF
 * NOT EXISTS, so a file of schema 2 gains it at the next open and keeps everything else), and a
 * Strata that does not know it ignores it, so older versions still open the file. AUTOINCREMENT:
 * ids are never reused, even after the newest labels were trimmed or deleted, so a reader that
 * follows the log by id never mistakes a new label for one it has already read.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS semantic_entries (
    id         INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    namespace  TEXT NOT NULL,
    llm_string TEXT NOT NULL,
    prompt     TEXT NOT NULL,
    embedder   TEXT NOT NULL,
    vector     BLOB NOT NULL,
    payload    TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    tags       TEXT NOT NULL,
    bad        INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS semantic_entries_partition ON semantic_entries (namespace, llm_string);
  CREATE TABLE IF NOT EXISTS semantic_graphs (
    partition TEXT NOT NULL,
    embedder  TEXT NOT NULL,
    graph     BLOB NOT NULL,
    PRIMARY KEY (partition, embedder)
  );
  CREATE TABLE IF NOT EXISTS semantic_labels (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    embedder   TEXT NOT NULL,
    scope      TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    entry      TEXT NOT NULL,
    similarity REAL NOT NULL,
    wrong      INTEGER NOT NULL,
    source     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    proof      TEXT
  );
  CREATE INDEX IF NOT EXISTS semantic_labels_embedder ON semantic_labels (embedder, id);`;
/** Schema 2: the question and the context digest; rows of schema 1 (whole-prompt vectors) keep NULLs and are not loaded. */
const MIGRATE_TO_2 = `
  ALTER TABLE semantic_entries ADD COLUMN query TEXT;
  ALTER TABLE semantic_entries ADD COLUMN context TEXT;`;
/**
 * The HNSW graphs are written back after this many changes to the indexed entries (and at close),
 * so a process that dies loses at most that many links to rebuild at the next start.
 */
export const GRAPH_SAVE_CHANGES = 1_000;

export class LocalStore implements SemanticStore {
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly items = new Map<number, Item>();
  private readonly byHash = new Map<string, number>();
  private readonly partitions = new Map<string, VectorIndex>();
  private bytes = 0;
  private markedBad = 0;
  /** Changes to the indexed entries since the graphs were last saved. */
  private changes = 0;

  constructor(private readonly options: LocalStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path, { timeout: 5_000 });
    try {
      retryWhileBusy(5_000, () => this.prepareSchema());
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.stmt = {
      payload: this.db.prepare('SELECT payload FROM semantic_entries WHERE id = ?').pluck(),
      upsert: this.db.prepare(
        `INSERT INTO semantic_entries (hash, namespace, llm_string, prompt, query, context, embedder, vector, payload, size, created_at, expires_at, tags)
         VALUES (@hash, @namespace, @llm, @prompt, @query, @context, @embedder, @vector, @payload, @size, @created, @expires, @tags)
         ON CONFLICT (hash) DO UPDATE SET prompt = excluded.prompt, query = excluded.query, context = excluded.context,
           embedder = excluded.embedder, vector = excluded.vector,
           payload = excluded.payload, size = excluded.size, created_at = excluded.created_at,
           expires_at = excluded.expires_at, tags = excluded.tags, bad = 0
         RETURNING id`,
      ),
      delete: this.db.prepare('DELETE FROM semantic_entries WHERE id = ?'),
      markBad: this.db.prepare('UPDATE semantic_entries SET bad = 1 WHERE id = ?'),
      texts: this.db.prepare('SELECT prompt, query FROM semantic_entries WHERE hash = ? AND bad = 0'),
      replace: this.db.prepare(
        `UPDATE semantic_entries SET payload = @payload, prompt = @prompt, query = @query
          WHERE hash = @hash AND bad = 0 AND payload = @oldPayload AND prompt = @oldPrompt AND query = @oldQuery`,
      ),
      load: this.db.prepare(
        'SELECT id, hash, namespace, llm_string, prompt, query, context, vector, size, expires_at, tags FROM semantic_entries WHERE embedder = ? AND bad = 0 AND query IS NOT NULL',
      ),
      countBad: this.db.prepare('SELECT count(*) FROM semantic_entries WHERE bad = 1').pluck(),
      graphs: this.db.prepare('SELECT partition, graph FROM semantic_graphs WHERE embedder = ?'),
      dropGraphs: this.db.prepare('DELETE FROM semantic_graphs WHERE embedder = ?'),
      saveGraph: this.db.prepare('INSERT INTO semantic_graphs (partition, embedder, graph) VALUES (?, ?, ?)'),
      appendLabel: this.db.prepare(
        `INSERT INTO semantic_labels (embedder, scope, namespace, entry, similarity, wrong, source, at, proof)
         VALUES (@embedder, @scope, @namespace, @entry, @similarity, @wrong, @source, @at, @proof)`,
      ),
      // Only well-formed rows count against the limit: a run of damaged rows cannot fill a page
      // and stall a reader that follows the log by the last id it was given (rowLabel checks again).
      labelsAfter: this.db.prepare(
        `SELECT id, scope, namespace, entry, similarity, wrong, source, at, proof FROM semantic_labels
          WHERE embedder = @embedder AND id > @after
            AND typeof(scope) = 'text' AND typeof(namespace) = 'text' AND typeof(entry) = 'text'
            AND typeof(similarity) IN ('real', 'integer') AND similarity BETWEEN -1 AND 1
            AND wrong IN (0, 1) AND typeof(wrong) = 'integer'
            AND source IN (${LABEL_SOURCES.map((s) => `'${s}'`).join(', ')})
            AND typeof(proof) IN ('text', 'null')
            AND typeof(at) = 'integer' AND at BETWEEN -${Number.MAX_SAFE_INTEGER} AND ${Number.MAX_SAFE_INTEGER}
          ORDER BY id LIMIT @limit`,
      ),
      // Everything up to the newest label beyond the @keep newest of this embedder (none when there are fewer).
      trimLabels: this.db.prepare(
        `DELETE FROM semantic_labels WHERE embedder = @embedder AND id <= (
           SELECT id FROM semantic_labels WHERE embedder = @embedder ORDER BY id DESC LIMIT 1 OFFSET @keep)`,
      ),
    };
    this.load();
  }

  nearest(partition: string, vector: Vector, k: number): Candidate[] {
    const index = this.partitions.get(partition);
    if (!index || index.size === 0) return [];
    const out: Candidate[] = [];
    for (const { id, score } of index.search(vector, k)) {
      const item = this.items.get(id);
      if (item)
        out.push({
          hash: item.hash,
          prompt: item.prompt,
          query: item.query,
          score,
          expiresAt: item.expiresAt,
        });
    }
    return out;
  }

  payload(hash: string): string | undefined {
    const id = this.byHash.get(hash);
    return id === undefined ? undefined : (this.stmt.payload.get(id) as string | undefined);
  }

  put(question: Question, vector: Vector, payload: string): void {
    const id = (
      this.stmt.upsert.get({
        hash: question.hash,
        namespace: question.namespace,
        llm: question.llmString,
        prompt: question.prompt,
        query: question.query,
        context: question.context,
        embedder: this.options.embedderId,
        vector: vectorToBytes(vector),
        payload,
        size: question.size,
        created: question.createdAt,
        expires: question.expiresAt,
        tags: JSON.stringify(question.tags),
      }) as { id: number }
    ).id;
    this.index(
      {
        id,
        hash: question.hash,
        partition: question.partition,
        namespace: question.namespace,
        prompt: question.prompt,
        query: question.query,
        expiresAt: question.expiresAt,
        tags: [...question.tags],
        size: question.size,
      },
      vector,
    );
    while (this.items.size > this.options.maxEntries) {
      const oldest = this.items.values().next().value!;
      this.removeItem(oldest);
    }
  }

  delete(hash: string): boolean {
    const id = this.byHash.get(hash);
    if (id === undefined) return false;
    this.removeItem(this.items.get(id)!);
    return true;
  }

  markBad(hash: string): boolean {
    const id = this.byHash.get(hash);
    if (id === undefined) return false;
    this.stmt.markBad.run(id);
    this.unindex(this.items.get(id)!);
    this.markedBad++;
    return true;
  }

  remove({ namespace, tag, expiredAt }: Selection): number {
    const doomed = [...this.items.values()].filter(
      (item) =>
        (namespace === undefined || item.namespace === namespace) &&
        (tag === undefined || item.tags.includes(tag)) &&
        (expiredAt === undefined || (item.expiresAt !== null && item.expiresAt <= expiredAt)),
    );
    this.db.transaction(() => {
      for (const item of doomed) this.removeItem(item);
    })();
    if (expiredAt !== undefined) this.trimLabels();
    if (this.changes >= GRAPH_SAVE_CHANGES) this.saveGraphs();
    return doomed.length;
  }

  /**
   * Appends the labels in one transaction; one that could not be read back (label-rows.ts) is
   * left out rather than failing the others. A readonly store (inspecting commands) appends
   * nothing and says nothing: what it would learn is not its to keep, and it is no failure.
   */
  appendLabels(labels: readonly Label[]): void {
    if (this.options.readonly) return;
    const kept = labels.filter(storable);
    if (kept.length === 0) return;
    const embedder = this.options.embedderId;
    // IMMEDIATE: the write lock is taken (waiting the busy timeout) before anything is written.
    this.db
      .transaction(() => {
        for (const label of kept)
          this.stmt.appendLabel.run({
            embedder,
            ...labelColumns(label),
            similarity: label.similarity,
            wrong: label.wrong ? 1 : 0,
            source: label.source,
            at: label.at,
            proof: label.proof ?? null,
          });
      })
      .immediate();
  }

  /** This embedder's labels with id > `after`, in id order, at most `limit`; malformed rows are skipped. */
  labelsAfter(after: number, limit: number): LoggedLabel[] {
    if (!(limit >= 1)) return [];
    const rows = this.stmt.labelsAfter.all({
      embedder: this.options.embedderId,
      after,
      limit: Math.floor(limit),
    }) as Array<Parameters<typeof rowLabel>[0]>;
    const out: LoggedLabel[] = [];
    for (const row of rows) {
      const label = rowLabel({ ...row, wrong: row.wrong === 1 ? true : row.wrong === 0 ? false : row.wrong });
      if (label) out.push(label);
    }
    return out;
  }

  texts(hash: string): Pick<StoredTexts, 'prompt' | 'query'> | undefined {
    const row = this.stmt.texts.get(hash) as { prompt: string; query: string | null } | undefined;
    return row && row.query !== null ? { prompt: row.prompt, query: row.query } : undefined;
  }

  replace(hash: string, expected: StoredTexts, next: StoredTexts): boolean {
    const replaced =
      this.stmt.replace.run({
        hash,
        ...next,
        oldPayload: expected.payload,
        oldPrompt: expected.prompt,
        oldQuery: expected.query,
      }).changes > 0;
    // The index keeps each entry's text in memory (nearest() hands it to the tier): the same
    // text as the row, unless another process rewrote the row since this one loaded it.
    const id = this.byHash.get(hash);
    const item = id === undefined ? undefined : this.items.get(id);
    if (replaced && item && item.prompt === expected.prompt && item.query === expected.query) {
      item.prompt = next.prompt;
      item.query = next.query;
    }
    return replaced;
  }

  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    for (const item of [...this.items.values()]) {
      if (namespace !== undefined && item.namespace !== namespace) continue;
      const payload = this.stmt.payload.get(item.id) as string | undefined;
      if (payload !== undefined) yield { namespace: item.namespace, hash: item.hash, payload };
    }
  }

  counts(): StoreCounts {
    return {
      entries: this.items.size,
      bytes: this.bytes,
      partitions: this.partitions.size,
      markedBad: this.markedBad,
    };
  }

  check(): void {
    this.db.prepare('SELECT 1').get();
  }

  close(): void {
    if (this.db.open && this.changes > 0) this.saveGraphs();
    if (this.db.open) this.db.close();
  }

  // -------------------------------------------------------------------------------------------

  /** Checks the store's version, switches it to WAL and brings its schema up to date; safe to repeat. */
  private prepareSchema(): void {
    // The version first: a newer store is left exactly as it is (no journal mode change either).
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new SqliteOpenError(
        `${this.options.path}: semantic store version ${version} was written by a newer Strata (this one knows ${SCHEMA_VERSION}); left untouched`,
      );
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db
      .transaction(() => {
        this.db.exec(SCHEMA);
        const columns = this.db
          .prepare('SELECT name FROM pragma_table_info(?)')
          .pluck()
          .all('semantic_entries');
        if (!columns.includes('query')) this.db.exec(MIGRATE_TO_2);
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })
      .immediate();
  }

  /**
   * Loads every entry of this embedder and indexes it. A partition's HNSW graph is restored from
   * its saved snapshot when there is one (vectors/hnsw.ts), instead of being rebuilt vector by vector.
   */
  private load(): void {
    const snapshots = new Map<string, Int32Array>();
    for (const row of this.stmt.graphs.all(this.options.embedderId) as Array<{
      partition: string;
      graph: Buffer;
    }>) {
      // A copy: the Int32Array needs 4-byte alignment, which a Buffer from SQLite need not have.
      const bytes = new Uint8Array(row.graph);
      if (bytes.length % 4 === 0) snapshots.set(row.partition, new Int32Array(bytes.buffer));
    }
    const byPartition = new Map<string, Map<number, Vector>>();
    const rows = this.stmt.load.all(this.options.embedderId) as Array<{
      id: number;
      hash: string;
      namespace: string;
      llm_string: string;
      prompt: string;
      query: string;
      context: string;
      vector: Buffer;
      size: number;
      expires_at: number | null;
      tags: string;
    }>;
    for (const row of rows) {
      const item: Item = {
        id: row.id,
        hash: row.hash,
        partition: partitionOf(row.namespace, row.llm_string, row.context),
        namespace: row.namespace,
        prompt: row.prompt,
        query: row.query,
        expiresAt: row.expires_at,
        tags: JSON.parse(row.tags) as string[],
        size: row.size,
      };
      this.items.set(item.id, item);
      this.byHash.set(item.hash, item.id);
      this.bytes += item.size;
      let vectors = byPartition.get(item.partition);
      if (!vectors) {
        vectors = new Map();
        byPartition.set(item.partition, vectors);
      }
      vectors.set(item.id, vectorFromBytes(row.vector));
    }
    // Graphs built or changed here (a rebuild, entries linked after a crash), and saved graphs of
    // partitions gone, make the saved ones stale: they are written again at the next purge or close.
    let stale = [...snapshots.keys()].some((p) => !byPartition.has(p));
    const progress = this.options.onProgress;
    let indexed = 0;
    for (const [partition, vectors] of byPartition) {
      const index = new VectorIndex(this.options.index);
      const before = indexed;
      const added = progress && ((n: number) => progress(INDEXED, before + n, rows.length));
      if (index.load(vectors, snapshots.get(partition), added)) stale = true;
      indexed += vectors.size;
      this.partitions.set(partition, index);
    }
    if (progress && rows.length > 0) progress(INDEXED, rows.length, rows.length);
    this.markedBad = this.stmt.countBad.get() as number;
    if (stale) this.changes = GRAPH_SAVE_CHANGES;
  }

  /** Drops this embedder's labels older than its MAX_LABELS newest. */
  private trimLabels(): void {
    if (this.options.readonly) return;
    this.stmt.trimLabels.run({ embedder: this.options.embedderId, keep: MAX_LABELS });
  }

  /** Writes every partition's graph (replacing the saved ones); a failure only costs a rebuild later. */
  private saveGraphs(): void {
    if (this.options.readonly) return;
    try {
      const embedder = this.options.embedderId;
      this.db.transaction(() => {
        this.stmt.dropGraphs.run(embedder);
        for (const [partition, index] of this.partitions) {
          const graph = index.snapshot();
          if (graph)
            this.stmt.saveGraph.run(
              partition,
              embedder,
              Buffer.from(graph.buffer, graph.byteOffset, graph.byteLength),
            );
        }
      })();
      this.changes = 0;
    } catch (error) {
      this.options.onClientError?.(error as Error);
    }
  }

  private index(item: Item, vector: Vector): void {
    this.changes++;
    const previous = this.byHash.get(item.hash);
    if (previous !== undefined) this.unindex(this.items.get(previous)!);
    this.items.set(item.id, item);
    this.byHash.set(item.hash, item.id);
    this.bytes += item.size;
    let index = this.partitions.get(item.partition);
    if (!index) {
      index = new VectorIndex(this.options.index);
      this.partitions.set(item.partition, index);
    }
    index.add(item.id, vector);
  }

  private unindex(item: Item): void {
    this.changes++;
    this.items.delete(item.id);
    this.byHash.delete(item.hash);
    this.bytes -= item.size;
    const index = this.partitions.get(item.partition);
    index?.remove(item.id);
    if (index && index.size === 0) this.partitions.delete(item.partition);
  }

  private removeItem(item: Item): void {
    this.stmt.delete.run(item.id);
    this.unindex(item);
  }
}
