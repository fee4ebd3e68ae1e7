/**
 * Semantic tier: answers a request with the entry of an earlier request that asked a similar
 * question in the same context, if it is similar enough and no precision guard objects. Placed
 * after the exact tiers, it only sees what they missed.
 *
 * Each request is split into its question and its context (request.ts): system prompts,
 * history, tools and retrieved documents are context and must be identical; only the question
 * is embedded and compared. Entries are partitioned by (namespace, sanitized llm string, context
 * digest): a search never looks at another tenant's, another model's or another conversation's
 * questions. A request with no question, or one longer than `maxQueryChars` or than the embedder
 * can see, is not matched by similarity at all (counted by reason).
 *
 * Vectors and questions live in memory (one VectorIndex per partition); payloads, vectors and
 * questions persist in a SQLite file and are loaded back at start. Vectors of another embedder,
 * or from before questions were split out (schema 1: whole prompts), stay on disk unloaded.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import type { StoredEntry } from '../../core/entry.js';
import type { CacheKey } from '../../core/key.js';
import type { ListedEntry, SimilarMatch, Tier, TierHealth, TierStats } from '../../core/tier.js';
import { retryWhileBusy } from '../sqlite/busy.js';
import type { SemanticTierConfig } from './config.js';
import { type Embedder, type Vector, vectorFromBytes, vectorToBytes } from './embedder.js';
import { type GuardName, refusingGuard } from './guards.js';
import type { VectorIndexOptions } from './neighbours.js';
import { contextDigest, type QueryExtractor, splitRequest } from './request.js';
import { VectorIndex } from './vector-index.js';
import type { Verifier } from './verifier.js';

export type { Verifier } from './verifier.js';

/**
 * The fields of config.ts that the driver takes as they are, and what tiers/index.ts builds from
 * the rest: the embedder (from `embeddings` and `modelPath`), the resolved threshold, the verifier
 * function, the query extractor (from `queryPattern`) and the purge period in ms.
 */
export type SemanticTierOptions = Pick<
  SemanticTierConfig,
  'thresholds' | 'path' | 'maxEntries' | 'candidates'
> &
  Partial<Pick<SemanticTierConfig, 'maxQueryChars'>> & {
    name?: string;
    embedder: Embedder;
    /** Cosine similarity a candidate must reach, from -1 to 1. */
    threshold: number;
    guards: readonly GuardName[];
    /** Last word on a candidate that passed threshold and guards (e.g. an LLM judge). */
    verifier?: Verifier;
    /** Says which part of every prompt is the question (config `queryPattern`). */
    extractQuery?: QueryExtractor;
    /** Background purge of expired entries; 0 = off. */
    purgeIntervalMs?: number;
    index?: VectorIndexOptions;
    clock: Clock;
    /** Inspecting commands: the saved graphs are not written. */
    readonly?: boolean;
    /** A failure outside a tier call (saving the graphs): counted and logged like one. */
    onClientError?: (error: Error) => void;
  };

interface Item {
  id: number;
  hash: string;
  partition: string;
  namespace: string;
  prompt: string;
  /** The question the entry answers: what is embedded and what the guards compare. */
  query: string;
  expiresAt: number | null;
  tags: string[];
  size: number;
}

/**
 * A question longer than this is mostly pasted material (code, an e-mail, retrieved documents)
 * that would dominate its vector: two different instructions about the same paste look alike.
 */
export const DEFAULT_MAX_QUERY_CHARS = 500;
const SCHEMA_VERSION = 2;
/** Why a request was not matched by similarity at all (as opposed to a guard refusing a candidate). */
const NOT_MATCHED = new Set(['no-question', 'query-too-long', 'unseen-by-embedder']);
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
  );`;
/**
 * The HNSW graphs are written back after this many changes to the indexed entries (and at close),
 * so a process that dies loses at most that many links to rebuild at the next start.
 */
const GRAPH_SAVE_CHANGES = 1_000;
/** Schema 2: the question and the context digest; rows of schema 1 (whole-prompt vectors) keep NULLs and are not loaded. */
const MIGRATE_TO_2 = `
  ALTER TABLE semantic_entries ADD COLUMN query TEXT;
  ALTER TABLE semantic_entries ADD COLUMN context TEXT;`;

export class SemanticTier implements Tier {
  readonly name: string;
  readonly type = 'semantic';
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly items = new Map<number, Item>();
  private readonly byHash = new Map<string, number>();
  private readonly partitions = new Map<string, VectorIndex>();
  /** Which stored entry answered each recent query, so markBad can find it. */
  private readonly answeredBy = new Map<string, string>();
  private readonly refusals: Record<string, number> = {};
  private readonly notMatched: Record<string, number> = {};
  private bytes = 0;
  private markedBad = 0;
  private verifierRefusals = 0;
  private purgeTimer: NodeJS.Timeout | undefined;
  /** Changes to the indexed entries since the graphs were last saved. */
  private changes = 0;

  constructor(private readonly options: SemanticTierOptions) {
    this.name = options.name ?? 'semantic';
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path, { timeout: 5_000 });
    try {
      retryWhileBusy(5_000, () => this.prepareSchema(options.path));
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
      load: this.db.prepare(
        'SELECT id, hash, namespace, llm_string, prompt, query, context, vector, size, expires_at, tags FROM semantic_entries WHERE embedder = ? AND bad = 0 AND query IS NOT NULL',
      ),
      countBad: this.db.prepare('SELECT count(*) FROM semantic_entries WHERE bad = 1').pluck(),
      graphs: this.db.prepare('SELECT partition, graph FROM semantic_graphs WHERE embedder = ?'),
      dropGraphs: this.db.prepare('DELETE FROM semantic_graphs WHERE embedder = ?'),
      saveGraph: this.db.prepare('INSERT INTO semantic_graphs (partition, embedder, graph) VALUES (?, ?, ?)'),
    };
    this.load();
    if (options.purgeIntervalMs) {
      this.purgeTimer = setInterval(() => {
        this.purgeExpired();
        if (this.changes >= GRAPH_SAVE_CHANGES) this.saveGraphs();
      }, options.purgeIntervalMs);
      this.purgeTimer.unref();
    }
  }

  /** Checks the store's version, switches it to WAL and brings its schema up to date; safe to repeat. */
  private prepareSchema(path: string): void {
    // The version first: a newer store is left exactly as it is (no journal mode change either).
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `${path}: semantic store version ${version} was written by a newer Strata (this one knows ${SCHEMA_VERSION}); left untouched`,
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

  /** The question and context of a request, or the reason it is not matched by similarity. */
  private split(key: CacheKey): { query: string; context: string; partition: string } | { refused: string } {
    const { query, context } = splitRequest(key.prompt, key.question, this.options.extractQuery);
    if (query.trim().length === 0) return { refused: 'no-question' };
    // Never match on text the embedder cannot see whole: two questions that differ past its
    // window would look identical.
    if (query.length > (this.options.maxQueryChars ?? DEFAULT_MAX_QUERY_CHARS))
      return { refused: 'query-too-long' };
    if (this.options.embedder.fits?.(query) === false) return { refused: 'unseen-by-embedder' };
    const digest = contextDigest(context);
    return { query, context: digest, partition: partitionOf(key.namespace, key.llmString, digest) };
  }

  async get(key: CacheKey): Promise<SimilarMatch | undefined> {
    const split = this.split(key);
    if ('refused' in split) {
      this.refuse(split.refused);
      return undefined;
    }
    const index = this.partitions.get(split.partition);
    if (!index || index.size === 0) return undefined;
    const [vector] = await this.options.embedder.embed([split.query]);
    const threshold = this.options.thresholds?.[key.namespace] ?? this.options.threshold;
    const now = this.options.clock.now();
    for (const candidate of index.search(vector!, this.options.candidates)) {
      if (candidate.score < threshold) break;
      const item = this.items.get(candidate.id);
      if (!item || (item.expiresAt !== null && item.expiresAt <= now)) continue;
      // The nearest live entry decides. When a guard or the verifier refuses it, the next one
      // is not tried: measured on GPTCache's set, falling back to it added more wrong answers
      // than right ones (the runner-up is usually a different question).
      const guard = refusingGuard(split.query, item.query, this.options.guards);
      if (guard) {
        this.refuse(guard);
        return undefined;
      }
      if (this.options.verifier && !(await this.options.verifier(split.query, item.query))) {
        this.verifierRefusals++;
        return undefined;
      }
      const payload = this.stmt.payload.get(item.id) as string | undefined;
      if (payload === undefined) continue;
      this.remember(key.hash, item.hash);
      return { payload, hash: item.hash, similarity: candidate.score, matchedPrompt: item.prompt };
    }
    return undefined;
  }

  /** Stores what it can match by similarity; a request without a usable question is refused (false). */
  async set(key: CacheKey, entry: StoredEntry): Promise<boolean> {
    const split = this.split(key);
    if ('refused' in split) return false;
    const [vector] = await this.options.embedder.embed([split.query]);
    const tags = [...entry.tags];
    const id = (
      this.stmt.upsert.get({
        hash: key.hash,
        namespace: key.namespace,
        llm: key.llmString,
        prompt: key.prompt,
        query: split.query,
        context: split.context,
        embedder: this.options.embedder.id,
        vector: vectorToBytes(vector!),
        payload: entry.payload,
        size: entry.size,
        created: entry.createdAt,
        expires: entry.expiresAt,
        tags: JSON.stringify(tags),
      }) as { id: number }
    ).id;
    this.index(
      {
        id,
        hash: key.hash,
        partition: split.partition,
        namespace: key.namespace,
        prompt: key.prompt,
        query: split.query,
        expiresAt: entry.expiresAt,
        tags,
        size: entry.size,
      },
      vector!,
    );
    while (this.items.size > this.options.maxEntries) {
      const oldest = this.items.values().next().value!;
      this.removeItem(oldest);
    }
    return true;
  }

  delete(key: CacheKey): boolean {
    const id = this.byHash.get(key.hash);
    if (id === undefined) return false;
    this.removeItem(this.items.get(id)!);
    return true;
  }

  clear(namespace?: string): number {
    return this.removeWhere((item) => namespace === undefined || item.namespace === namespace);
  }

  invalidateTag(tag: string, namespace?: string): number {
    return this.removeWhere(
      (item) => item.tags.includes(tag) && (namespace === undefined || item.namespace === namespace),
    );
  }

  purgeExpired(): number {
    const now = this.options.clock.now();
    return this.removeWhere((item) => item.expiresAt !== null && item.expiresAt <= now);
  }

  /**
   * Takes the entry that answered `key` (or, failing that, its nearest neighbour above the
   * threshold) out of semantic matching for good. The entry stays in exact tiers: it is the
   * right answer to its own prompt, just not to others'.
   */
  async markBad(key: CacheKey): Promise<boolean> {
    let hash = this.answeredBy.get(key.hash);
    const split = this.split(key);
    if (hash === undefined && !('refused' in split)) {
      const index = this.partitions.get(split.partition);
      const [vector] = await this.options.embedder.embed([split.query]);
      const best = index?.search(vector!, 1)[0];
      const threshold = this.options.thresholds?.[key.namespace] ?? this.options.threshold;
      if (best && best.score >= threshold) hash = this.items.get(best.id)?.hash;
    }
    const id = hash === undefined ? undefined : this.byHash.get(hash);
    if (id === undefined) return false;
    const item = this.items.get(id)!;
    this.stmt.markBad.run(id);
    this.unindex(item);
    this.markedBad++;
    return true;
  }

  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    for (const item of [...this.items.values()]) {
      if (namespace !== undefined && item.namespace !== namespace) continue;
      const payload = this.stmt.payload.get(item.id) as string | undefined;
      if (payload !== undefined) yield { namespace: item.namespace, hash: item.hash, payload };
    }
  }

  stats(): TierStats {
    return {
      entries: this.items.size,
      bytes: this.bytes,
      partitions: this.partitions.size,
      markedBad: this.markedBad,
      verifierRefusals: this.verifierRefusals,
      guardRefusals: { ...this.refusals },
      notMatched: { ...this.notMatched },
    };
  }

  health(): TierHealth {
    this.db.prepare('SELECT 1').get();
    return { status: 'up' };
  }

  close(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    if (this.db.open && this.changes > 0) this.saveGraphs();
    if (this.db.open) this.db.close();
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Loads every entry of this embedder and indexes it. A partition's HNSW graph is restored from
   * its saved snapshot when there is one (hnsw.ts), instead of being rebuilt vector by vector:
   * minutes at 100k entries, against seconds to read them.
   */
  private load(): void {
    const snapshots = new Map<string, Int32Array>();
    for (const row of this.stmt.graphs.all(this.options.embedder.id) as Array<{
      partition: string;
      graph: Buffer;
    }>) {
      // A copy: the Int32Array needs 4-byte alignment, which a Buffer from SQLite need not have.
      const bytes = new Uint8Array(row.graph);
      if (bytes.length % 4 === 0) snapshots.set(row.partition, new Int32Array(bytes.buffer));
    }
    const byPartition = new Map<string, Map<number, Vector>>();
    const rows = this.stmt.load.all(this.options.embedder.id) as Array<{
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
    for (const [partition, vectors] of byPartition) {
      const index = new VectorIndex(this.options.index);
      if (index.load(vectors, snapshots.get(partition))) stale = true;
      this.partitions.set(partition, index);
    }
    this.markedBad = this.stmt.countBad.get() as number;
    if (stale) this.changes = GRAPH_SAVE_CHANGES;
  }

  /** Writes every partition's graph (replacing the saved ones); a failure only costs a rebuild later. */
  private saveGraphs(): void {
    if (this.options.readonly) return;
    try {
      const embedder = this.options.embedder.id;
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

  private removeWhere(predicate: (item: Item) => boolean): number {
    const doomed = [...this.items.values()].filter(predicate);
    this.db.transaction(() => {
      for (const item of doomed) this.removeItem(item);
    })();
    return doomed.length;
  }

  /** Counts a lookup not answered by similarity: by the guard that refused, or why it was not tried. */
  private refuse(reason: string): void {
    const counts = NOT_MATCHED.has(reason) ? this.notMatched : this.refusals;
    counts[reason] = (counts[reason] ?? 0) + 1;
  }

  private remember(queryHash: string, answeredBy: string): void {
    this.answeredBy.delete(queryHash);
    this.answeredBy.set(queryHash, answeredBy);
    if (this.answeredBy.size > 10_000) this.answeredBy.delete(this.answeredBy.keys().next().value!);
  }
}

/** Length-prefixed, so no namespace / llm string pair can spell another's partition; the context digest (hex) ends it. */
function partitionOf(namespace: string, llmString: string, context: string): string {
  return `${namespace.length}:${namespace}${llmString.length}:${llmString}\n${context}`;
}
