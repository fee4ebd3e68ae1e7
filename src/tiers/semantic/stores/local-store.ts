/**
 * The local semantic store: a SQLite file holds the entries (payloads, questions, vectors) and is
 * their source of truth; in memory there is only one VectorIndex per partition (its vectors,
 * int8, and links: ~540 bytes per 384-dimension entry, vectors/hnsw.ts). Everything else a
 * lookup needs (hash, question, expiry, the exact vector to rescore with) is read from the file
 * for the few candidates a search returns; counts are kept as entries come and go. Vectors of
 * another embedder, or from before questions were split out (schema 1: whole prompts), stay on
 * disk unindexed.
 *
 * Each partition's index is saved with the store (every GRAPH_SAVE_CHANGES changes, or a
 * hundredth of the entries if more, and at close) as one file beside it (`<file>.index-<random>`;
 * a blob in the table below 1 MiB, or for a store in memory) whose bytes are its arrays, read
 * whole and restored at start without reading a row: SQLite reads a blob of hundreds of
 * megabytes page by page, ten times slower than one file read. Its row in semantic_graphs names
 * the file and records the store's generation, a counter SQLite triggers raise at every insert,
 * delete or indexed-column update of an entry, whoever writes. A start whose saved indexes all carry the current generation, and hold as many entries
 * as the file, takes them as they are; otherwise (a crash since the last save, another process or
 * an older Strata wrote, a damaged or crafted blob) it reads the rows and makes the indexes match
 * them: entries gone are dropped, entries missing are linked anew, a partition without a usable
 * index is rebuilt, and every kept node's int8 vector is checked against its row's (a stale or
 * foreign node is linked anew). An index file is only read if it is a regular file within the
 * size the store's entries bound, and only used if its header names this store (a random id in
 * semantic_meta), its embedder and dimensions: another store's file under this name would
 * otherwise keep its vectors under this store's ids. A search's candidates are rescored with their stored vectors and checked to
 * be live rows of the partition searched, so an index that is wrong costs a miss, never a wrong
 * hit. Version-1 graphs (links only, before issue 32) are converted at the first start, and saved
 * in the new form at the next save.
 *
 * The label log of the learned error bound (bound/labels.ts) is a table of the same file, one
 * embedder column value per embedder: labels of another embedder are never read back (a model
 * change starts learning afresh), and each embedder keeps its newest MAX_LABELS. Their text is
 * stored escaped (label-rows.ts): SQLite keeps text as UTF-8, where lone surrogates would all
 * become U+FFFD and two namespaces could share a scope.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import type { ListedEntry } from '../../../core/tier.js';
import { SqliteOpenError } from '../../../errors.js';
import { retryWhileBusy } from '../../kit/sqlite-busy.js';
import { LABEL_SOURCES, type Label, type LoggedLabel } from '../bound/labels.js';
import { vectorFromBytes, vectorToBytes } from '../vectors/bytes.js';
import { maxSnapshotBytesPerNode } from '../vectors/hnsw.js';
import type { VectorIndexOptions } from '../vectors/neighbours.js';
import { dot, isDense, type Vector } from '../vectors/vector.js';
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
  /** Saved indexes of at least this many bytes go to a file beside the store, smaller ones in its table (default 1 MiB). */
  indexFileBytes?: number;
  /** How far indexing at open has come, when no saved graph spares the work. */
  onProgress?: (task: string, done: number, total: number) => void;
  /** A saved index refused or repaired at start (default: process.emitWarning). */
  onWarning?: (message: string) => void;
}

/** What a start did, stage by stage (bench/semantic-million.ts reports it). */
export interface LoadReport {
  /** 'saved': every index taken as saved, no row read; 'rows': the rows were read and the indexes made to match. */
  path: 'saved' | 'rows';
  /** Milliseconds per stage, in order. */
  stages: Array<[string, number]>;
  /** Bytes of the saved indexes read. */
  savedBytes: number;
  /** Entries dropped from saved indexes (gone from the file) and linked anew (missing from them). */
  dropped: number;
  linked: number;
  /** Saved index files refused unread or unused (another store's, of another embedder, not a regular file, too big). */
  refused: number;
  /** Nodes of saved indexes whose vector was not their row's (stale, another store's): dropped and linked anew. */
  mismatched: number;
  /** Partitions whose saved index was rebuilt whole from the rows (too many mismatched nodes, other dimensions). */
  rebuilt: number;
}

/** A live row's place: which index holds it, and what it counts. */
interface RowPlace {
  id: number;
  namespace: string;
  llm_string: string;
  context: string;
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
  CREATE INDEX IF NOT EXISTS semantic_labels_embedder ON semantic_labels (embedder, id);
  CREATE TABLE IF NOT EXISTS semantic_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
  );
  INSERT OR IGNORE INTO semantic_generation (id, value) VALUES (1, 0);
  CREATE TABLE IF NOT EXISTS semantic_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );`;
/**
 * After schema 2 (they name its columns), added like semantic_labels without a new version.
 * The triggers raise the generation at every change an index reflects, from any writer (an older
 * Strata, another process, a hand edit); the partial indexes let a start count the live entries,
 * and a put find the oldest, without reading the rows (each spans pages: its vector is 1.5 KB).
 */
const GENERATION_SCHEMA = `
  CREATE TRIGGER IF NOT EXISTS semantic_entries_generation_insert AFTER INSERT ON semantic_entries
    BEGIN UPDATE semantic_generation SET value = value + 1 WHERE id = 1; END;
  CREATE TRIGGER IF NOT EXISTS semantic_entries_generation_delete AFTER DELETE ON semantic_entries
    BEGIN UPDATE semantic_generation SET value = value + 1 WHERE id = 1; END;
  CREATE TRIGGER IF NOT EXISTS semantic_entries_generation_update
    AFTER UPDATE OF id, hash, namespace, llm_string, context, embedder, vector, bad, query ON semantic_entries
    BEGIN UPDATE semantic_generation SET value = value + 1 WHERE id = 1; END;
  CREATE INDEX IF NOT EXISTS semantic_entries_live ON semantic_entries (embedder, id, size)
    WHERE bad = 0 AND query IS NOT NULL;
  CREATE INDEX IF NOT EXISTS semantic_entries_bad ON semantic_entries (bad) WHERE bad = 1;
  CREATE INDEX IF NOT EXISTS semantic_entries_expiry ON semantic_entries (expires_at)
    WHERE expires_at IS NOT NULL;`;
/** What names a store's index files: `<store file>.index-<16 hex digits>`. */
const INDEX_FILE = '.index-';
/**
 * An index file starts with this header (then the snapshot): 'SIX1', the snapshot's dimensions,
 * the store's id (semantic_meta), a digest of the embedder id and the generation it was saved at
 * (-1: none). A file copied from another store, or of another embedder, is not used at all: its
 * nodes would carry ids of this store with vectors of other entries, and a start that reads the
 * rows would keep them.
 */
const INDEX_FILE_MAGIC = 0x31584953;
const INDEX_FILE_HEADER = 64;
/** More nodes' vectors than this share of a partition's not their rows': the index is rebuilt rather than patched. */
const MISMATCH_REBUILD_SHARE = 0.05;
/** Smaller indexes stay in the table: a store of many small partitions does not become as many files. */
const INDEX_FILE_BYTES = 1 << 20;
const EMPTY = Buffer.alloc(0);
/** The live entries of an embedder: what is indexed and searched. */
const LIVE = 'embedder = @embedder AND bad = 0 AND query IS NOT NULL';
/** A dense search asks its index for this many candidates more than wanted, and rescores them with the stored vectors. */
const RESCORE_EXTRA = 10;
/** Schema 2: the question and the context digest; rows of schema 1 (whole-prompt vectors) keep NULLs and are not loaded. */
const MIGRATE_TO_2 = `
  ALTER TABLE semantic_entries ADD COLUMN query TEXT;
  ALTER TABLE semantic_entries ADD COLUMN context TEXT;`;
/**
 * The indexes are written back after this many changes to the indexed entries, or a hundredth of
 * the entries if more (a save writes every index whole: ~540 MB at a million), and at close; a
 * process that dies loses at most that many links to make at the next start, which reads the rows.
 */
export const GRAPH_SAVE_CHANGES = 1_000;

export class LocalStore implements SemanticStore {
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly partitions = new Map<string, VectorIndex>();
  private entryCount = 0;
  private bytes = 0;
  private markedBad = 0;
  /** Changes to the indexed entries since the indexes were last saved. */
  private changes = 0;
  /** The store's generation as this process last saw it, after its own writes. */
  private generation = 0;
  /** Another writer changed entries since this process loaded: its indexes may not match the rows. */
  private foreign = false;
  /** What the start did (bench/semantic-million.ts). */
  loadReport: LoadReport = {
    path: 'saved',
    stages: [],
    savedBytes: 0,
    dropped: 0,
    linked: 0,
    refused: 0,
    mismatched: 0,
    rebuilt: 0,
  };
  /** The store's identity (semantic_meta), written into its index files; set before load(). */
  private storeId = '';

  constructor(private readonly options: LocalStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path, { timeout: 5_000 });
    try {
      retryWhileBusy(5_000, () => this.prepareSchema());
    } catch (error) {
      this.db.close();
      throw error;
    }
    const live = LIVE;
    this.stmt = {
      generation: this.db.prepare('SELECT value FROM semantic_generation WHERE id = 1').pluck(),
      liveCounts: this.db.prepare(
        `SELECT count(*) AS n, total(size) AS bytes FROM semantic_entries WHERE ${live}`,
      ),
      countBad: this.db.prepare('SELECT count(*) FROM semantic_entries WHERE bad = 1').pluck(),
      byHash: this.db.prepare(
        `SELECT id, namespace, llm_string, context, size, (${live}) AS indexed FROM semantic_entries WHERE hash = @hash`,
      ),
      liveByHash: this.db.prepare(
        `SELECT id, namespace, llm_string, context, size FROM semantic_entries WHERE hash = @hash AND ${live}`,
      ),
      candidate: this.db.prepare(
        `SELECT hash, prompt, query, expires_at, namespace, llm_string, context, vector FROM semantic_entries
          WHERE id = @id AND ${live}`,
      ),
      payload: this.db.prepare(`SELECT payload FROM semantic_entries WHERE hash = @hash AND ${live}`).pluck(),
      payloadById: this.db.prepare('SELECT payload FROM semantic_entries WHERE id = ?').pluck(),
      insert: this.db.prepare(
        `INSERT INTO semantic_entries (hash, namespace, llm_string, prompt, query, context, embedder, vector, payload, size, created_at, expires_at, tags)
         VALUES (@hash, @namespace, @llm, @prompt, @query, @context, @embedder, @vector, @payload, @size, @created, @expires, @tags)`,
      ),
      oldest: this.db.prepare(
        `SELECT id, namespace, llm_string, context, size FROM semantic_entries WHERE ${live} ORDER BY id LIMIT 1`,
      ),
      delete: this.db.prepare('DELETE FROM semantic_entries WHERE id = ?'),
      markBad: this.db.prepare('UPDATE semantic_entries SET bad = 1 WHERE id = ?'),
      texts: this.db.prepare('SELECT prompt, query FROM semantic_entries WHERE hash = ? AND bad = 0'),
      replace: this.db.prepare(
        `UPDATE semantic_entries SET payload = @payload, prompt = @prompt, query = @query
          WHERE hash = @hash AND bad = 0 AND payload = @oldPayload AND prompt = @oldPrompt AND query = @oldQuery`,
      ),
      listed: this.db.prepare(
        `SELECT id, namespace, hash FROM semantic_entries WHERE ${live} AND (@namespace IS NULL OR namespace = @namespace) ORDER BY id`,
      ),
      rows: this.db.prepare(
        `SELECT id, namespace, llm_string, context, vector FROM semantic_entries WHERE ${live}`,
      ),
      partitionRows: this.db.prepare(
        `SELECT id, vector FROM semantic_entries
          WHERE namespace = @namespace AND llm_string = @llm AND context = @context AND ${live}`,
      ),
      graphs: this.db.prepare(
        'SELECT partition, graph, generation, file FROM semantic_graphs WHERE embedder = ?',
      ),
      graphFiles: this.db
        .prepare('SELECT file FROM semantic_graphs WHERE embedder = ? AND file IS NOT NULL')
        .pluck(),
      dropGraphs: this.db.prepare('DELETE FROM semantic_graphs WHERE embedder = ?'),
      saveGraph: this.db.prepare(
        'INSERT INTO semantic_graphs (partition, embedder, graph, generation, file) VALUES (?, ?, ?, ?, ?)',
      ),
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
    this.storeId = this.db
      .prepare("SELECT value FROM semantic_meta WHERE key = 'store_id'")
      .pluck()
      .get() as string;
    // One read transaction: the generation, the counts and the rows are of one moment.
    this.db.transaction(() => this.load())();
  }

  private get embedder() {
    return { embedder: this.options.embedderId };
  }

  nearest(partition: string, vector: Vector, k: number): Candidate[] {
    const index = this.partitions.get(partition);
    if (!index || index.size === 0) return [];
    const dense = isDense(vector);
    const out: Candidate[] = [];
    const seen = new Set<number>();
    for (const { id, score } of index.search(vector, dense ? k + RESCORE_EXTRA : k)) {
      if (seen.has(id)) continue;
      seen.add(id);
      const row = this.stmt.candidate.get({ id, ...this.embedder }) as
        | (Omit<RowPlace, 'id' | 'size'> & {
            hash: string;
            prompt: string;
            query: string;
            expires_at: number | null;
            vector: Buffer;
          })
        | undefined;
      if (!row || partitionOf(row.namespace, row.llm_string, row.context) !== partition) continue;
      let exact = score;
      if (dense) {
        const stored = vectorFromBytes(row.vector);
        if (!isDense(stored) || stored.length !== vector.length) continue;
        exact = dot(vector, stored);
      }
      out.push({
        hash: row.hash,
        prompt: row.prompt,
        query: row.query,
        score: exact,
        expiresAt: row.expires_at,
      });
    }
    out.sort((a, b) => b.score - a.score);
    return out.slice(0, k);
  }

  payload(hash: string): string | undefined {
    return this.stmt.payload.get({ hash, ...this.embedder }) as string | undefined;
  }

  put(question: Question, vector: Vector, payload: string): void {
    this.write(() => {
      // A replaced entry is deleted and inserted again: its id becomes the newest, and the
      // oldest entries (the lowest ids) are the first dropped beyond maxEntries.
      const previous = this.stmt.byHash.get({ hash: question.hash, ...this.embedder }) as
        | (RowPlace & { indexed: number })
        | undefined;
      if (previous) {
        this.stmt.delete.run(previous.id);
        if (previous.indexed === 1) this.unindex(previous);
      }
      const id = Number(
        this.stmt.insert.run({
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
        }).lastInsertRowid,
      );
      this.index(id, question.partition, vector, question.size);
      while (this.entryCount > this.options.maxEntries) {
        const oldest = this.stmt.oldest.get(this.embedder) as RowPlace | undefined;
        if (!oldest) break;
        this.removeRow(oldest);
      }
    });
  }

  delete(hash: string): boolean {
    const row = this.stmt.liveByHash.get({ hash, ...this.embedder }) as RowPlace | undefined;
    if (!row) return false;
    this.write(() => this.removeRow(row));
    return true;
  }

  markBad(hash: string): boolean {
    const row = this.stmt.liveByHash.get({ hash, ...this.embedder }) as RowPlace | undefined;
    if (!row) return false;
    this.write(() => {
      this.stmt.markBad.run(row.id);
      this.unindex(row);
    });
    this.markedBad++;
    return true;
  }

  remove({ namespace, tag, expiredAt }: Selection): number {
    const where = [LIVE];
    if (namespace !== undefined) where.push('namespace = @namespace');
    if (expiredAt !== undefined) where.push('expires_at IS NOT NULL AND expires_at <= @expiredAt');
    const rows = this.db
      .prepare(
        `SELECT id, namespace, llm_string, context, size${tag === undefined ? '' : ', tags'} FROM semantic_entries WHERE ${where.join(' AND ')}`,
      )
      .all({
        ...this.embedder,
        ...(namespace === undefined ? {} : { namespace }),
        ...(expiredAt === undefined ? {} : { expiredAt }),
      }) as Array<RowPlace & { tags?: string }>;
    const doomed = tag === undefined ? rows : rows.filter((row) => hasTag(row.tags!, tag));
    if (doomed.length > 0)
      this.write(() => {
        for (const row of doomed) this.removeRow(row);
      });
    if (expiredAt !== undefined) this.trimLabels();
    if (this.changes >= this.saveEvery()) this.saveGraphs();
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

  /** The text is read from the row at each search: nothing in memory to update. */
  replace(hash: string, expected: StoredTexts, next: StoredTexts): boolean {
    return (
      this.write(() =>
        this.stmt.replace.run({
          hash,
          ...next,
          oldPayload: expected.payload,
          oldPrompt: expected.prompt,
          oldQuery: expected.query,
        }),
      ).changes > 0
    );
  }

  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    const listed = this.stmt.listed.all({ ...this.embedder, namespace: namespace ?? null }) as Array<{
      id: number;
      namespace: string;
      hash: string;
    }>;
    for (const row of listed) {
      const payload = this.stmt.payloadById.get(row.id) as string | undefined;
      if (payload !== undefined) yield { namespace: row.namespace, hash: row.hash, payload };
    }
  }

  counts(): StoreCounts {
    return {
      entries: this.entryCount,
      bytes: this.bytes,
      partitions: this.partitions.size,
      markedBad: this.markedBad,
    };
  }

  /** Bytes held by the indexes' arrays (bench/semantic-million.ts). */
  indexBytes(): number {
    let sum = 0;
    for (const index of this.partitions.values()) sum += index.bytes;
    return sum;
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
        const columns = (table: string) =>
          this.db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[];
        if (!columns('semantic_entries').includes('query')) this.db.exec(MIGRATE_TO_2);
        if (!columns('semantic_graphs').includes('generation'))
          this.db.exec('ALTER TABLE semantic_graphs ADD COLUMN generation INTEGER');
        if (!columns('semantic_graphs').includes('file'))
          this.db.exec('ALTER TABLE semantic_graphs ADD COLUMN file TEXT');
        this.db.exec(GENERATION_SCHEMA);
        // Created once with the store (an existing one gets it at its first open), kept by a copy of the .db.
        this.db
          .prepare("INSERT OR IGNORE INTO semantic_meta (key, value) VALUES ('store_id', ?)")
          .run(randomBytes(8).toString('hex'));
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })
      .immediate();
  }

  /**
   * Indexes every live entry of this embedder: from the saved indexes alone when they are of the
   * store's current generation and hold every entry, else from the rows (module comment).
   */
  private load(): void {
    const stages: Array<[string, number]> = [];
    let t = performance.now();
    const stage = (name: string) => {
      const now = performance.now();
      stages.push([name, now - t]);
      t = now;
    };
    this.generation = this.stmt.generation.get() as number;
    this.loadReport = { ...this.loadReport, dropped: 0, linked: 0, refused: 0, mismatched: 0, rebuilt: 0 };
    const counts = this.stmt.liveCounts.get(this.embedder) as { n: number; bytes: number };
    this.entryCount = counts.n;
    this.bytes = counts.bytes;
    this.markedBad = this.stmt.countBad.get() as number;
    stage('generation and counts (SQLite indexes)');
    const saved = (
      this.stmt.graphs.all(this.options.embedderId) as Array<{
        partition: string;
        graph: Buffer;
        generation: number | null;
        file: string | null;
      }>
    ).map((row) => ({
      ...row,
      graph: row.file === null ? row.graph : (this.readIndexFile(row.file, row.generation) ?? EMPTY),
    }));
    const savedBytes = saved.reduce((sum, row) => sum + row.graph.byteLength, 0);
    stage('saved indexes read');
    const restored = new Map<string, VectorIndex>();
    const v1 = new Map<string, Int32Array>();
    let current = saved.length > 0;
    let held = 0;
    for (const row of saved) {
      const index = VectorIndex.restore(row.graph, this.options.index);
      if (index) {
        restored.set(row.partition, index);
        held += index.size;
      } else if (row.graph.byteLength % 4 === 0 && row.graph.byteLength >= 4) {
        // A copy: an Int32Array needs 4-byte alignment, which a Buffer from SQLite need not have.
        const words = new Int32Array(new Uint8Array(row.graph).buffer);
        if (words[0] === 1) v1.set(row.partition, words);
      }
      if (!index || row.generation !== this.generation) current = false;
    }
    stage('saved indexes checked');
    this.loadReport = { ...this.loadReport, path: 'saved', stages, savedBytes };
    if (current && held === this.entryCount) {
      for (const [partition, index] of restored) this.partitions.set(partition, index);
      if (this.entryCount > 0) this.options.onProgress?.(INDEXED, this.entryCount, this.entryCount);
      return;
    }
    this.loadFromRows(restored, v1, saved.length);
    stage('rows read and indexes matched to them');
  }

  /** The slow start: every live row read, the restored indexes made to match them (load()). */
  private loadFromRows(
    restored: Map<string, VectorIndex>,
    v1: Map<string, Int32Array>,
    savedCount: number,
  ): void {
    const report = this.loadReport;
    report.path = 'rows';
    const places = new Map<string, { namespace: string; llm: string; context: string }>();
    const pending = new Map<string, Map<number, Vector>>();
    const present = new Map<string, Set<number>>();
    const mismatched = new Map<string, number>();
    for (const row of this.stmt.rows.iterate(this.embedder) as Iterable<
      Omit<RowPlace, 'size'> & { vector: Buffer }
    >) {
      const partition = partitionOf(row.namespace, row.llm_string, row.context);
      if (!places.has(partition)) {
        places.set(partition, { namespace: row.namespace, llm: row.llm_string, context: row.context });
        pending.set(partition, new Map());
        present.set(partition, new Set());
      }
      const restoredIndex = restored.get(partition);
      if (restoredIndex?.has(row.id)) {
        // Kept only if its node holds this row's vector: a stale or foreign node is linked anew.
        const vector = vectorFromBytes(row.vector);
        if (restoredIndex.holds(row.id, vector)) present.get(partition)!.add(row.id);
        else {
          mismatched.set(partition, (mismatched.get(partition) ?? 0) + 1);
          pending.get(partition)!.set(row.id, vector);
        }
      } else if (restoredIndex || v1.has(partition))
        pending.get(partition)!.set(row.id, vectorFromBytes(row.vector));
      // A partition with nothing saved is indexed from a second pass over its own rows (below):
      // holding every vector at once cost 1.5 GB more at a million entries.
    }
    // Saved indexes of partitions gone, or not restored, make the saved ones stale.
    let stale =
      restored.size + v1.size < savedCount || [...restored.keys(), ...v1.keys()].some((p) => !places.has(p));
    const progress = this.options.onProgress;
    const total = this.entryCount;
    let indexed = 0;
    for (const [partition, vectors] of pending) {
      const before = indexed;
      const added = progress && ((n: number) => progress(INDEXED, before + n, total));
      let index = restored.get(partition);
      let changed = 0;
      const wrong = mismatched.get(partition) ?? 0;
      report.mismatched += wrong;
      try {
        // Past a small share, patching would leave most of the graph's links built around wrong vectors.
        if (index && wrong > index.size * MISMATCH_REBUILD_SHARE) throw new Error('rebuilt');
        if (index) {
          const kept = present.get(partition)!;
          const gone = [...index.liveIds()].filter((id) => !kept.has(id));
          for (const id of gone) index.remove(id);
          index.load(vectors, added);
          report.dropped += gone.length;
          report.linked += vectors.size;
          changed = gone.length + vectors.size;
        } else {
          const links = v1.get(partition);
          const converted = links && VectorIndex.fromLinks(links, vectors, this.options.index);
          if (converted) {
            index = converted.index;
            report.linked += converted.changed;
            changed = 1; // saved again in the new form
          } else {
            index = new VectorIndex(this.options.index);
            index.load(links ? vectors : this.partitionVectors(places.get(partition)!), added);
            report.linked += index.size;
            changed = index.kind === 'graph' ? 1 : 0; // a sparse index is never saved
          }
        }
      } catch {
        // A saved index of other dimensions than the rows, or too many nodes not matching them: rebuilt from them.
        report.rebuilt++;
        index = new VectorIndex(this.options.index);
        index.load(this.partitionVectors(places.get(partition)!), added);
        changed = 1;
      }
      if (changed > 0) stale = true;
      indexed += index.size;
      if (index.size > 0) this.partitions.set(partition, index);
    }
    if (progress && total > 0) progress(INDEXED, total, total);
    if (report.mismatched > 0)
      this.warn(
        `${this.options.path}: ${report.mismatched} entries of the saved index held other vectors than their rows; relinked (${report.rebuilt} partitions rebuilt)`,
      );
    // Saved again even when nothing changed: tagged with the current generation, so that the
    // next start takes them as they are instead of reading the rows again.
    if (stale || [...this.partitions.values()].some((index) => index.kind === 'graph'))
      this.changes = this.saveEvery();
  }

  /** A partition's live vectors, read as they are indexed (never all held at once). */
  private *partitionVectors(place: {
    namespace: string;
    llm: string;
    context: string;
  }): Generator<[number, Vector]> {
    const rows = this.stmt.partitionRows.iterate({ ...place, ...this.embedder }) as Iterable<{
      id: number;
      vector: Buffer;
    }>;
    for (const row of rows) yield [row.id, vectorFromBytes(row.vector)];
  }

  private saveEvery(): number {
    return Math.max(GRAPH_SAVE_CHANGES, Math.floor(this.entryCount / 100));
  }

  /**
   * A write transaction (IMMEDIATE: the lock first) that keeps track of the generation: a
   * generation other than the last this process saw means another writer changed entries.
   */
  private write<T>(fn: () => T): T {
    return this.db
      .transaction(() => {
        if ((this.stmt.generation.get() as number) !== this.generation) this.foreign = true;
        const out = fn();
        this.generation = this.stmt.generation.get() as number;
        return out;
      })
      .immediate();
  }

  /** Drops this embedder's labels older than its MAX_LABELS newest. */
  private trimLabels(): void {
    if (this.options.readonly) return;
    this.stmt.trimLabels.run({ embedder: this.options.embedderId, keep: MAX_LABELS });
  }

  /**
   * Writes every partition's index (replacing the saved ones), tagged with the generation they
   * match; when another writer changed entries meanwhile, untagged (the next start reads the
   * rows). A failure only costs a slower start later.
   */
  private saveGraphs(): void {
    if (this.options.readonly) return;
    const written: string[] = [];
    try {
      const embedder = this.options.embedderId;
      const inMemory = this.options.path === ':memory:' || this.options.path === '';
      // The files first, outside the transaction (seconds at a million entries), then the rows naming them.
      const saved: Array<{ partition: string; graph: Buffer; file: string | null }> = [];
      for (const [partition, index] of this.partitions) {
        const graph = index.snapshot();
        if (!graph) continue;
        if (inMemory || graph.byteLength < (this.options.indexFileBytes ?? INDEX_FILE_BYTES)) {
          saved.push({
            partition,
            graph: Buffer.from(graph.buffer, graph.byteOffset, graph.byteLength),
            file: null,
          });
          continue;
        }
        const file = `${basename(this.options.path)}${INDEX_FILE}${randomBytes(8).toString('hex')}`;
        const path = join(dirname(this.options.path), file);
        this.writeIndexFile(`${path}.tmp`, graph);
        renameSync(`${path}.tmp`, path);
        written.push(path);
        saved.push({ partition, graph: EMPTY, file });
      }
      let replaced: string[] = [];
      this.write(() => {
        const generation = this.foreign ? null : this.generation;
        replaced = this.stmt.graphFiles.all(embedder) as string[];
        this.stmt.dropGraphs.run(embedder);
        for (const { partition, graph, file } of saved)
          this.stmt.saveGraph.run(partition, embedder, graph, generation, file);
      });
      written.length = 0;
      this.changes = 0;
      for (const file of replaced) {
        const path = this.indexPath(file);
        if (path) rmSync(path, { force: true });
      }
      if (!inMemory) this.removeOrphans();
    } catch (error) {
      for (const path of written) rmSync(path, { force: true });
      this.options.onClientError?.(error as Error);
    }
  }

  /**
   * Index files no row names, left by a save cut short: removed once ten minutes old (a younger
   * one may be another process's save, between its file and its row).
   */
  private removeOrphans(): void {
    try {
      const dir = dirname(this.options.path);
      const prefix = `${basename(this.options.path)}${INDEX_FILE}`;
      const named = new Set(
        this.db.prepare('SELECT file FROM semantic_graphs WHERE file IS NOT NULL').pluck().all() as string[],
      );
      for (const name of readdirSync(dir)) {
        if (!name.startsWith(prefix) || named.has(name)) continue;
        const path = join(dir, name);
        if (statSync(path).mtimeMs < Date.now() - 600_000) rmSync(path, { force: true });
      }
    } catch {
      // Only disk space at stake: tried again at the next save.
    }
  }

  /** The path of an index file a row names: beside the store, of its name; undefined for any other. */
  private indexPath(file: string): string | undefined {
    const prefix = `${basename(this.options.path)}${INDEX_FILE}`;
    if (!file.startsWith(prefix) || !/^[0-9a-f]+$/.test(file.slice(prefix.length))) return undefined;
    return join(dirname(this.options.path), file);
  }

  /** Writes an index file: its header (INDEX_FILE_HEADER), then the snapshot. */
  private writeIndexFile(path: string, graph: Uint8Array): void {
    const header = indexFileHeader({
      storeId: this.storeId,
      embedderId: this.options.embedderId,
      dims: new Int32Array(graph.buffer, graph.byteOffset, 3)[2]!,
      generation: this.foreign ? null : this.generation,
    });
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, header);
      writeSync(fd, graph);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * One read of a saved index file, its snapshot returned; undefined when it is not there
   * (deleted, another process's save replaced it) or not usable. Checked before reading: a
   * regular file (a symlink to /dev/zero or a FIFO would never end), of at most the size an index
   * of this store's entries can take; after: this store's, of its embedder and dimensions, saved
   * at the generation its row says. A refused file is said once and costs a rebuild from the rows.
   */
  private readIndexFile(file: string, generation: number | null): Buffer | undefined {
    const path = this.indexPath(file);
    if (!path) return undefined;
    let bytes: Buffer;
    try {
      // No entries: nothing for an index to hold, nothing to say.
      if (this.entryCount === 0) return undefined;
      const stat = statSync(path);
      if (!stat.isFile()) return this.refuse(path, 'not a regular file');
      const dims = this.rowDims();
      const maxBytes =
        INDEX_FILE_HEADER +
        128 +
        (2 * this.entryCount + this.saveEvery()) * maxSnapshotBytesPerNode(dims, this.options.index);
      if (dims === 0) return this.refuse(path, 'no dense entries for it to index');
      if (stat.size > maxBytes)
        return this.refuse(
          path,
          `${stat.size} bytes, more than an index of ${this.entryCount} entries takes`,
        );
      bytes = readFileSync(path);
    } catch {
      return undefined;
    }
    const ok =
      bytes.byteLength >= INDEX_FILE_HEADER + 16 &&
      bytes.readUInt32LE(0) === INDEX_FILE_MAGIC &&
      bytes.toString('hex', 8, 16) === this.storeId &&
      bytes.subarray(16, 32).equals(embedderDigest(this.options.embedderId)) &&
      bytes.readUInt32LE(4) === this.rowDims() &&
      (generation === null || bytes.readDoubleLE(32) === generation);
    if (!ok) return this.refuse(path, 'saved by another store, embedder or save');
    return bytes.subarray(INDEX_FILE_HEADER);
  }

  /** The dimensions of this embedder's stored dense vectors (0: none, or sparse). */
  private rowDims(): number {
    const vector = this.db
      .prepare(`SELECT vector FROM semantic_entries WHERE ${LIVE} LIMIT 1`)
      .pluck()
      .get(this.embedder) as Buffer | undefined;
    if (!vector) return 0;
    const parsed = vectorFromBytes(vector);
    return isDense(parsed) ? parsed.length : 0;
  }

  private refuse(path: string, why: string): undefined {
    this.loadReport.refused++;
    this.warn(`${path}: saved index not used (${why}); rebuilt from the entries`);
    return undefined;
  }

  private warn(message: string): void {
    if (this.options.onWarning) this.options.onWarning(message);
    else process.emitWarning(message, { code: 'STRATA_SEMANTIC_INDEX' });
  }

  private index(id: number, partition: string, vector: Vector, size: number): void {
    let index = this.partitions.get(partition);
    if (!index) {
      index = new VectorIndex(this.options.index);
      this.partitions.set(partition, index);
    }
    // First: a vector the index refuses (other dimensions) throws before anything is counted,
    // and the put's transaction is rolled back.
    index.add(id, vector);
    this.changes++;
    this.entryCount++;
    this.bytes += size;
  }

  private unindex(row: RowPlace): void {
    this.changes++;
    this.entryCount--;
    this.bytes -= row.size;
    const partition = partitionOf(row.namespace, row.llm_string, row.context);
    const index = this.partitions.get(partition);
    index?.remove(row.id);
    if (index && index.size === 0) this.partitions.delete(partition);
  }

  private removeRow(row: RowPlace): void {
    this.stmt.delete.run(row.id);
    this.unindex(row);
  }
}

/** The header of an index file (INDEX_FILE_MAGIC); exported for bench/semantic-million.ts, which installs a graph built apart. */
export function indexFileHeader(of: {
  storeId: string;
  embedderId: string;
  dims: number;
  generation: number | null;
}): Buffer {
  const header = Buffer.alloc(INDEX_FILE_HEADER);
  header.writeUInt32LE(INDEX_FILE_MAGIC, 0);
  header.writeUInt32LE(of.dims, 4);
  header.write(of.storeId, 8, 'hex');
  embedderDigest(of.embedderId).copy(header, 16);
  header.writeDoubleLE(of.generation ?? -1, 32);
  return header;
}

function embedderDigest(embedderId: string): Buffer {
  return createHash('sha256').update(embedderId).digest().subarray(0, 16);
}

function hasTag(tags: string, tag: string): boolean {
  try {
    const parsed = JSON.parse(tags) as unknown;
    return Array.isArray(parsed) && parsed.includes(tag);
  } catch {
    return false;
  }
}
