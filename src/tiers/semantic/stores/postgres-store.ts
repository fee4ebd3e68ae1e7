/**
 * The shared semantic store: entries and their vectors in PostgreSQL with pgvector, so every
 * process of a fleet finds what any of them stored, at once, and nothing is loaded or rebuilt
 * at start.
 *
 * One table per embedder (vectors of different models are not comparable, and an HNSW index
 * needs one dimension), created on first use with the dimension of the first vector: dense
 * vectors as `vector(n)` (or `halfvec(n)`: `vectorType`, and always above 2,000 dimensions,
 * where pgvector's HNSW refuses `vector`) with an HNSW index (`vector_cosine_ops` /
 * `halfvec_cosine_ops`), the lexical embedder's sparse ones as `sparsevec(n)` with an HNSW index
 * (`sparsevec_cosine_ops`). The column type of a table that exists is read from the catalog and
 * used as it is (a table made before `vectorType` existed keeps working); a `vectorType` that
 * contradicts it is a configuration error, never a silent change. Vectors travel as binary
 * parameters in pgvector's send/recv format (vectorParam), exact and without text parsing. A search filters by
 * partition (namespace, llm string and context digest, as a digest column with a b-tree index)
 * and skips entries marked bad or expired; pgvector 0.8's iterative index scan keeps reading
 * the graph until enough rows pass the filter, and a small partition is read exactly through
 * the b-tree. The tier then runs its guards and verifier on the candidates, as with the local
 * store.
 *
 * markBad, deletes, clears and invalidations are rows changed in the shared table: they apply to
 * every process at the next lookup. Namespaces and tags are stored escaped (postgres tier's
 * `toColumn`), so U+0000 and lone surrogates stay exact.
 *
 * The label log of the learned error bound (bound/labels.ts) is a second table per embedder,
 * `<table>_labels`, which every process of the fleet appends to and follows by id (see
 * LABEL_SETTLE_MS for what bigserial order means there). It is created with the entries table,
 * or by the first append if that comes first; the newest MAX_LABELS are kept.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { ListedEntry } from '../../../core/tier.js';
import { TierConfigError } from '../../../errors.js';
import {
  fromColumn,
  PG_TABLE_PREFIX,
  PG_TABLE_PREFIX_RULE,
  toColumn,
  transaction,
  withClient,
  withoutNul,
} from '../../kit/postgres-sql.js';
import { LABEL_SOURCES, type Label, type LoggedLabel } from '../bound/labels.js';
import { isDense, type Vector } from '../vectors/vector.js';
import { labelColumns, rowLabel, storable } from './label-rows.js';
import {
  type Candidate,
  MAX_LABELS,
  type Question,
  type Selection,
  type SemanticStore,
  type StoreCounts,
  type StoredTexts,
} from './store.js';

export interface PostgresStoreOptions {
  url: string;
  poolSize: number;
  connectTimeoutMs: number;
  /** Prefix of the table names: lower-case letters, digits and _ (checked by the config and here). */
  tablePrefix: string;
  /** Only this embedder's vectors are stored and searched (one table each). */
  embedderId: string;
  /** The oldest entries beyond this many are dropped at each purge. */
  maxEntries: number;
  /** How many graph candidates a filtered search considers (pgvector's hnsw.ef_search). */
  efSearch?: number;
  /**
   * Column type of dense vectors in a table created here: 'vector' (float32) or 'halfvec'
   * (float16: half the index, up to 4,000 dimensions). Unset: DEFAULT_VECTOR_TYPE, and halfvec
   * above VECTOR_HNSW_MAX_DIM. A table that exists keeps its type; set, it must match that type.
   */
  vectorType?: DenseColumnType;
  onClientError?: (error: Error) => void;
}

const PAGE = 500;

export type DenseColumnType = 'vector' | 'halfvec';
type ColumnType = DenseColumnType | 'sparsevec';
/** What a new table of dense vectors uses when `vectorType` is not given (bench/README.md, issue 32: recall). */
export const DEFAULT_VECTOR_TYPE: DenseColumnType = 'vector';
/** pgvector's HNSW indexes `vector` up to this many dimensions, `halfvec` up to HALFVEC_HNSW_MAX_DIM. */
export const VECTOR_HNSW_MAX_DIM = 2_000;
export const HALFVEC_HNSW_MAX_DIM = 4_000;

/**
 * How old (by the server's clock) a label must be before a reader is given it.
 *
 * A bigserial id is taken when the row is inserted, but the row is seen by others only when its
 * transaction commits: process A may take id 9, process B id 10, and B commit first. A reader
 * that reads then and moves its cursor to 10 passes over 9 for good once A commits: that reader
 * never learns that label (the others, and later readers, still do). The label itself is not
 * lost, but a fleet's processes would fold slightly different logs.
 *
 * So a reader is only given rows logged (clock_timestamp() at insert, the moment the id is taken)
 * at least this long before its statement began. Every append is one autocommit INSERT, which
 * commits within milliseconds of taking its ids: any row with a smaller id was logged no later,
 * so unless its commit took longer than this, it is visible to the reader by then and comes
 * first. The cost is that a label is learned this much later, nothing next to how slowly labels
 * accrue; a commit stalled for longer than this (a stuck server) can still be passed over by a
 * reader, at the price of that one label for that reader.
 */
export const LABEL_SETTLE_MS = 1_000;

export class PostgresStore implements SemanticStore {
  private readonly pool: pg.Pool;
  private readonly table: string;
  /** Whether the table exists; created by the first put, with that vector's kind and dimension. */
  private ready = false;
  /** The vector column's type, read from the catalog (or chosen at creation) once the table exists. */
  private column: ColumnType = 'vector';
  /** The creation in progress, shared by concurrent puts; forgotten when it ends (a failure is tried again). */
  private creating: Promise<void> | undefined;
  /** The label log's table; created with the entries table or by the first append. */
  private readonly labels: string;
  private labelsReady = false;
  private creatingLabels: Promise<void> | undefined;
  /**
   * Every connection searches the graph until enough rows pass the partition filter: session
   * settings, given once per pooled connection before its first search (as SET rather than
   * startup options, which connection poolers such as PgBouncer refuse).
   */
  private readonly searchSettings: string;
  private readonly configured = new WeakSet<pg.PoolClient>();

  constructor(private readonly options: PostgresStoreOptions) {
    if (!PG_TABLE_PREFIX.test(options.tablePrefix))
      throw new TierConfigError(`store.tablePrefix: ${PG_TABLE_PREFIX_RULE}`);
    const digest = createHash('sha256').update(options.embedderId).digest('hex').slice(0, 12);
    this.table = `${options.tablePrefix}semantic_${digest}`;
    this.labels = `${this.table}_labels`;
    const efSearch = Math.max(10, Math.min(1000, Math.floor(options.efSearch ?? 100)));
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'strata-semantic',
    });
    this.pool.on('error', (error) => options.onClientError?.(error));
    this.searchSettings = `SET hnsw.iterative_scan = strict_order; SET hnsw.ef_search = ${efSearch}`;
  }

  async nearest(partition: string, vector: Vector, k: number, now: number): Promise<Candidate[]> {
    if (!(await this.tableExists())) return [];
    const rows = await withClient(this.pool, async (client, discard) => {
      try {
        if (!this.configured.has(client)) {
          await client.query(this.searchSettings);
          this.configured.add(client);
        }
        const { rows } = await client.query<{
          hash: string;
          prompt: string;
          query: string;
          distance: number;
          expires_at: string | null;
        }>(
          `SELECT hash, prompt, query, vector <=> ${this.param(1)} AS distance, expires_at FROM ${this.table}
            WHERE partition = $2 AND NOT bad AND (expires_at IS NULL OR expires_at > $3)
            ORDER BY vector <=> ${this.param(1)} LIMIT $4`,
          [vectorParam(vector), digestOf(partition), now, k],
        );
        return rows;
      } catch (error) {
        // The session settings may not have been applied: this connection is not reused.
        discard(error as Error);
        throw error;
      }
    });
    return rows.map((r) => ({
      hash: r.hash,
      prompt: r.prompt,
      query: r.query,
      score: 1 - r.distance,
      expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    }));
  }

  async payload(hash: string): Promise<string | undefined> {
    if (!(await this.tableExists())) return undefined;
    const { rows } = await this.pool.query<{ payload: string }>(
      `SELECT payload FROM ${this.table} WHERE hash = $1 AND NOT bad`,
      [hash],
    );
    return rows[0]?.payload;
  }

  async put(question: Question, vector: Vector, payload: string): Promise<void> {
    await this.createTable(vector);
    await this.pool.query(
      `INSERT INTO ${this.table} (hash, partition, namespace, llm_string, context, prompt, query, vector, payload, size, created_at, expires_at, tags)
       VALUES ($1, $2, $3, $4, $5, $6, $7, ${this.param(8)}, $9, $10, $11, $12, $13)
       ON CONFLICT (hash) DO UPDATE SET prompt = excluded.prompt, query = excluded.query, vector = excluded.vector,
         payload = excluded.payload, size = excluded.size, created_at = excluded.created_at,
         expires_at = excluded.expires_at, tags = excluded.tags, bad = false`,
      [
        question.hash,
        digestOf(question.partition),
        toColumn(question.namespace),
        toColumn(question.llmString),
        question.context,
        withoutNul(question.prompt),
        withoutNul(question.query),
        vectorParam(vector),
        payload,
        question.size,
        question.createdAt,
        question.expiresAt,
        question.tags.map(toColumn),
      ],
    );
  }

  async delete(hash: string): Promise<boolean> {
    if (!(await this.tableExists())) return false;
    const result = await this.pool.query(`DELETE FROM ${this.table} WHERE hash = $1`, [hash]);
    return (result.rowCount ?? 0) > 0;
  }

  async markBad(hash: string): Promise<boolean> {
    if (!(await this.tableExists())) return false;
    const result = await this.pool.query(`UPDATE ${this.table} SET bad = true WHERE hash = $1 AND NOT bad`, [
      hash,
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async remove({ namespace, tag, expiredAt }: Selection): Promise<number> {
    if (!(await this.tableExists())) {
      if (expiredAt !== undefined) await this.trimLabels();
      return 0;
    }
    const result = await this.pool.query(
      `DELETE FROM ${this.table}
        WHERE ($1::text IS NULL OR namespace = $1) AND ($2::text IS NULL OR $2 = ANY (tags))
          AND ($3::bigint IS NULL OR (expires_at IS NOT NULL AND expires_at <= $3))`,
      [
        namespace === undefined ? null : toColumn(namespace),
        tag === undefined ? null : toColumn(tag),
        expiredAt ?? null,
      ],
    );
    if (expiredAt !== undefined) {
      await this.trim();
      await this.trimLabels();
    }
    return result.rowCount ?? 0;
  }

  async texts(hash: string): Promise<Pick<StoredTexts, 'prompt' | 'query'> | undefined> {
    if (!(await this.tableExists())) return undefined;
    const { rows } = await this.pool.query<{ prompt: string; query: string }>(
      `SELECT prompt, query FROM ${this.table} WHERE hash = $1 AND NOT bad`,
      [hash],
    );
    return rows[0];
  }

  async replace(hash: string, expected: StoredTexts, next: StoredTexts): Promise<boolean> {
    if (!(await this.tableExists())) return false;
    const result = await this.pool.query(
      `UPDATE ${this.table} SET payload = $2, prompt = $3, query = $4
        WHERE hash = $1 AND NOT bad AND payload = $5 AND prompt = $6 AND query = $7`,
      [
        hash,
        next.payload,
        withoutNul(next.prompt),
        withoutNul(next.query),
        expected.payload,
        expected.prompt,
        expected.query,
      ],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    if (!(await this.tableExists())) return;
    let after = '';
    for (;;) {
      const { rows } = await this.pool.query<{ hash: string; namespace: string; payload: string }>(
        `SELECT hash, namespace, payload FROM ${this.table}
          WHERE hash > $1 AND NOT bad AND ($2::text IS NULL OR namespace = $2)
          ORDER BY hash COLLATE "C" LIMIT ${PAGE}`,
        [after, namespace === undefined ? null : toColumn(namespace)],
      );
      for (const r of rows) yield { namespace: fromColumn(r.namespace), hash: r.hash, payload: r.payload };
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.hash;
    }
  }

  async counts(): Promise<StoreCounts> {
    if (!(await this.tableExists())) return { entries: 0, bytes: 0, partitions: 0, markedBad: 0 };
    const { rows } = await this.pool.query<{
      entries: string;
      bytes: string;
      partitions: string;
      bad: string;
    }>(
      `SELECT count(*) FILTER (WHERE NOT bad) AS entries, coalesce(sum(size) FILTER (WHERE NOT bad), 0) AS bytes,
              count(DISTINCT partition) FILTER (WHERE NOT bad) AS partitions, count(*) FILTER (WHERE bad) AS bad
         FROM ${this.table}`,
    );
    const r = rows[0]!;
    return {
      entries: Number(r.entries),
      bytes: Number(r.bytes),
      partitions: Number(r.partitions),
      markedBad: Number(r.bad),
    };
  }

  /**
   * Appends the labels in one INSERT (one statement, so one transaction, whatever their number:
   * the columns go as arrays), in order: their ids grow in the order given. One that could not
   * be read back (label-rows.ts) is left out rather than failing the others.
   */
  async appendLabels(labels: readonly Label[]): Promise<void> {
    const kept = labels.filter(storable);
    if (kept.length === 0) return;
    await this.createLabels();
    const columns = kept.map(labelColumns);
    await this.pool.query(
      `INSERT INTO ${this.labels} (scope, namespace, entry, similarity, wrong, source, at, proof)
       SELECT scope, namespace, entry, similarity, wrong, source, at, proof
         FROM unnest($1::text[], $2::text[], $3::text[], $4::double precision[], $5::boolean[], $6::text[], $7::bigint[], $8::text[])
              WITH ORDINALITY AS l (scope, namespace, entry, similarity, wrong, source, at, proof, n)
        ORDER BY n`,
      [
        columns.map((c) => c.scope),
        columns.map((c) => c.namespace),
        columns.map((c) => c.entry),
        kept.map((l) => l.similarity),
        kept.map((l) => l.wrong),
        kept.map((l) => l.source),
        kept.map((l) => l.at),
        kept.map((l) => l.proof ?? null),
      ],
    );
  }

  /**
   * Labels with id > `after`, in id order, at most `limit`, settled for LABEL_SETTLE_MS; none
   * before the first append. Only well-formed rows count against the limit (a run of damaged
   * rows cannot fill a page and stall a reader), and each is checked again here.
   */
  async labelsAfter(after: number, limit: number): Promise<LoggedLabel[]> {
    if (!(limit >= 1) || !(await this.labelsExist())) return [];
    // bigint columns come back as strings.
    const { rows } = await this.pool.query<Parameters<typeof rowLabel>[0] & { id: string; at: string }>(
      `SELECT id, scope, namespace, entry, similarity, wrong, source, at, proof FROM ${this.labels}
        WHERE id > $1 AND logged <= statement_timestamp() - make_interval(secs => $2)
          AND num_nulls(scope, namespace, entry, similarity, wrong, source, at) = 0
          AND similarity BETWEEN -1 AND 1 AND source = ANY ($3::text[])
          AND at BETWEEN -${Number.MAX_SAFE_INTEGER} AND ${Number.MAX_SAFE_INTEGER}
        ORDER BY id LIMIT $4`,
      [Math.floor(after), LABEL_SETTLE_MS / 1_000, LABEL_SOURCES, Math.floor(limit)],
    );
    const out: LoggedLabel[] = [];
    for (const row of rows) {
      const label = rowLabel({ ...row, id: Number(row.id), at: Number(row.at) });
      if (label) out.push(label);
    }
    return out;
  }

  /** The server answers, and a table that exists has the column type `vectorType` asks for. */
  async check(): Promise<void> {
    await this.pool.query('SELECT 1');
    await this.tableExists();
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  // -------------------------------------------------------------------------------------------

  private async tableExists(): Promise<boolean> {
    if (this.ready) return true;
    // Another process may have created it since: look again (cheap, and only until it exists).
    this.ready = await this.findTable();
    return this.ready;
  }

  /** Whether the table exists, and if so its vector column's type (checked against `vectorType`). */
  private async findTable(): Promise<boolean> {
    const { rows } = await this.pool.query<{ type: string; dim: number }>(
      `SELECT t.typname AS type, a.atttypmod AS dim FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = to_regclass($1) AND a.attname = 'vector' AND NOT a.attisdropped`,
      [this.table],
    );
    const found = rows[0];
    if (!found) return false;
    if (found.type !== 'vector' && found.type !== 'halfvec' && found.type !== 'sparsevec')
      throw new Error(`${this.table}.vector is of type ${found.type}, not one this store writes`);
    const wanted = this.options.vectorType;
    if (wanted !== undefined && found.type !== 'sparsevec' && found.type !== wanted)
      throw new TierConfigError(
        `store.vectorType: '${wanted}', but ${this.table} already stores ${found.type}(${found.dim}); ` +
          `leave vectorType unset to use the table as it is, or convert it (docs/tiers/semantic.md, "Vector type")`,
      );
    this.column = found.type;
    return true;
  }

  /** The SQL for vector parameter $n: typed, so the server reads pgvector's binary format, and cast to the column's type. */
  private param(n: number): string {
    return this.column === 'halfvec' ? `$${n}::vector::halfvec` : `$${n}::${this.column}`;
  }

  /** Creates the table and its indexes for vectors like `vector` (one creator at a time across processes). */
  private async createTable(vector: Vector): Promise<void> {
    if (this.ready) return;
    this.creating ??= this.create(vector).finally(() => {
      this.creating = undefined;
    });
    await this.creating;
  }

  private async create(vector: Vector): Promise<void> {
    // Another process (or an earlier version) may have made it: its type wins, or a mismatch is reported.
    if (await this.findTable()) {
      this.ready = true;
      return;
    }
    const column = isDense(vector) ? denseColumn(vector.length, this.options.vectorType) : 'sparsevec';
    const type = `${column}(${isDense(vector) ? vector.length : vector.dim})`;
    const ops = `${column}_cosine_ops`;
    await transaction(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.table]);
      await c.query('CREATE EXTENSION IF NOT EXISTS vector');
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (
           hash       text PRIMARY KEY,
           partition  text NOT NULL,
           namespace  text NOT NULL,
           llm_string text NOT NULL,
           context    text NOT NULL,
           prompt     text NOT NULL,
           query      text NOT NULL,
           vector     ${type} NOT NULL,
           payload    text NOT NULL,
           size       integer NOT NULL,
           created_at bigint NOT NULL,
           expires_at bigint NULL,
           tags       text[] NOT NULL,
           bad        boolean NOT NULL DEFAULT false
         )`,
      );
      await c.query(`CREATE INDEX IF NOT EXISTS ${this.table}_partition ON ${this.table} (partition)`);
      await c.query(`CREATE INDEX IF NOT EXISTS ${this.table}_namespace ON ${this.table} (namespace)`);
      await c.query(
        `CREATE INDEX IF NOT EXISTS ${this.table}_vector ON ${this.table} USING hnsw (vector ${ops})`,
      );
      await c.query(this.labelsTableSql());
    });
    // Read back rather than assumed: a process that created the table first decided its type.
    if (!(await this.findTable())) throw new Error(`${this.table} was not created`);
    this.ready = true;
    this.labelsReady = true;
  }

  private labelsTableSql(): string {
    // `logged`: when the id was taken, by the server's clock (LABEL_SETTLE_MS).
    return `CREATE TABLE IF NOT EXISTS ${this.labels} (
              id         bigserial PRIMARY KEY,
              scope      text NOT NULL,
              namespace  text NOT NULL,
              entry      text NOT NULL,
              similarity double precision NOT NULL,
              wrong      boolean NOT NULL,
              source     text NOT NULL,
              at         bigint NOT NULL,
              proof      text NULL,
              logged     timestamptz NOT NULL DEFAULT clock_timestamp()
            )`;
  }

  /** Whether the label table exists; looked for again until it does (another process may create it). */
  private async labelsExist(): Promise<boolean> {
    if (this.labelsReady) return true;
    const { rows } = await this.pool.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [
      this.labels,
    ]);
    this.labelsReady = rows[0]?.found !== null && rows[0]?.found !== undefined;
    return this.labelsReady;
  }

  /** Creates the label table when a label comes before the entries table (same lock as create). */
  private async createLabels(): Promise<void> {
    if (this.labelsReady) return;
    this.creatingLabels ??= transaction(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.table]);
      await c.query(this.labelsTableSql());
    })
      .then(() => {
        this.labelsReady = true;
      })
      .finally(() => {
        this.creatingLabels = undefined;
      });
    await this.creatingLabels;
  }

  /** Drops the oldest labels beyond MAX_LABELS. */
  private async trimLabels(): Promise<void> {
    if (!(await this.labelsExist())) return;
    await this.pool.query(
      `DELETE FROM ${this.labels} WHERE id <= (SELECT id FROM ${this.labels} ORDER BY id DESC OFFSET $1 LIMIT 1)`,
      [MAX_LABELS],
    );
  }

  /** Drops the oldest entries beyond maxEntries. */
  private async trim(): Promise<void> {
    await this.pool.query(
      `DELETE FROM ${this.table} WHERE hash IN (
         SELECT hash FROM ${this.table} ORDER BY created_at DESC OFFSET $1)`,
      [this.options.maxEntries],
    );
  }
}

/**
 * The column type of a new table of `dim`-dimensional dense vectors: `wanted`, else the default,
 * and halfvec where pgvector's HNSW refuses vector; a combination no index can hold is a
 * configuration error naming the field.
 */
export function denseColumn(dim: number, wanted: DenseColumnType | undefined): DenseColumnType {
  if (dim > HALFVEC_HNSW_MAX_DIM)
    throw new TierConfigError(
      `store: pgvector's HNSW index holds at most ${HALFVEC_HNSW_MAX_DIM} dimensions (halfvec), this embedder gives ${dim}; use the local store or an embedder with fewer dimensions`,
    );
  if (dim > VECTOR_HNSW_MAX_DIM) {
    if (wanted === 'vector')
      throw new TierConfigError(
        `store.vectorType: 'vector' is indexed up to ${VECTOR_HNSW_MAX_DIM} dimensions by pgvector's HNSW, this embedder gives ${dim}; use 'halfvec' (up to ${HALFVEC_HNSW_MAX_DIM}) or leave it unset`,
      );
    return 'halfvec';
  }
  return wanted ?? DEFAULT_VECTOR_TYPE;
}

/**
 * A vector as a binary parameter (node-postgres sends a Buffer in binary format) in pgvector's
 * send/recv format, big-endian: dense `vector` as int16 dim, int16 0, dim float32; sparse
 * `sparsevec` as int32 dim, int32 nnz, int32 0, nnz int32 indices (0-based, ascending), nnz
 * float32 values. Exact, where the text form cost a decimal rendering and parse per component.
 * The server checks it as it checks text (vector_recv/sparsevec_recv): NaN, infinities, a wrong
 * dimension or an out-of-range index are refused there. A halfvec column gets the float32 vector
 * cast on the server (param), so the rounding is pgvector's own.
 */
export function vectorParam(vector: Vector): Buffer {
  if (isDense(vector)) {
    const n = vector.length;
    if (n < 1 || n > 16_000) throw new RangeError(`a vector has 1 to 16000 dimensions, not ${n}`);
    const out = Buffer.allocUnsafe(4 + 4 * n);
    out.writeInt16BE(n, 0);
    out.writeInt16BE(0, 2);
    for (let i = 0; i < n; i++) out.writeFloatBE(vector[i]!, 4 + 4 * i);
    return out;
  }
  const nnz = vector.idx.length;
  const out = Buffer.allocUnsafe(12 + 8 * nnz);
  out.writeInt32BE(vector.dim, 0);
  out.writeInt32BE(nnz, 4);
  out.writeInt32BE(0, 8);
  for (let i = 0; i < nnz; i++) {
    out.writeInt32BE(vector.idx[i]!, 12 + 4 * i);
    out.writeFloatBE(vector.val[i]!, 12 + 4 * (nnz + i));
  }
  return out;
}

/**
 * A partition as a short fixed-width key for the b-tree (the partition string holds the whole llm
 * string). Hashed as UTF-16, so strings that differ only in a lone surrogate stay apart.
 */
function digestOf(partition: string): string {
  return createHash('sha256').update(Buffer.from(partition, 'utf16le')).digest('base64url');
}
