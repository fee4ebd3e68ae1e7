/**
 * MongoDB tier (tested on FerretDB): one inspectable document per entry, large answers in GridFS.
 *
 *   { _id: key hash, namespace, prompt, llm_string, tags, metadata, usage,
 *     response: { storage: 'inline', content, size, encoding }      answers up to the threshold
 *             | { storage: 'gridfs', gridfsId, size, encoding },    larger ones, in `<collection>_fs`
 *     created_at, updated_at, expires_at, access_count, cache_version }
 *
 * The _id is the full key hash over (namespace, sanitized llm string, prompt), so one prompt
 * under two models or two tenants is two documents. User text (prompts, tags, namespaces,
 * metadata) only ever appears as a value, and filters compare with $eq, so a tag such as
 * `{"$gt": ""}` or `$where` is matched literally, never read as an operator.
 *
 * GridFS files never outlive their document. A file is written before the document that points
 * to it, and removed only after the document stops pointing to it (overwrite, delete, clear,
 * purge). Whatever a crash or a lost server leaves behind in between (half-written chunks, a
 * replaced file not yet removed) is unreferenced, and the sweep in purgeExpired removes
 * unreferenced files once they are older than any upload in flight could be.
 *
 * Expiry: every read checks expires_at. Where the server has TTL indexes (MongoDB) inline
 * documents also expire there; GridFS-backed ones are left to the periodic purge, which removes
 * their files too (the server's TTL monitor would orphan them). FerretDB 1.x has no TTL indexes:
 * the tier detects that and relies on the purge alone (`ttlIndex: 0` in stats).
 */
import { type Collection, type Db, MongoClient, ObjectId } from 'mongodb';
import type { Clock } from '../../core/clock.js';
import type { StoredEntry, TokenUsage } from '../../core/entry.js';
import type { CacheKey } from '../../core/key.js';
import type { ListedEntry, Tier, TierHealth, TierStats } from '../../core/tier.js';
import { ServerTier } from '../kit/server-tier.js';
import type { MongodbTierConfig } from './config.js';
import { AnswerFiles } from './gridfs.js';

/** The fields of config.ts, with the purge period in ms. */
export type MongodbTierOptions = Pick<
  MongodbTierConfig,
  'url' | 'database' | 'collection' | 'gridfsThresholdBytes' | 'poolSize' | 'connectTimeoutMs'
> &
  Partial<Pick<MongodbTierConfig, 'timeoutMs'>> & {
    name?: string;
    purgeIntervalMs: number;
    /** How old an unreferenced GridFS file must be before the sweep removes it: longer than any upload takes. */
    orphanGraceMs?: number;
    clock: Clock;
  };

type StoredResponse =
  | { storage: 'inline'; content: string; size: number; encoding: 'utf8' }
  | { storage: 'gridfs'; gridfsId: ObjectId; size: number; encoding: 'utf8' };

interface CacheDocument {
  _id: string;
  namespace: string;
  prompt?: string;
  llm_string: string;
  response: StoredResponse;
  usage?: TokenUsage;
  metadata?: Record<string, unknown>;
  /** Metadata whose keys MongoDB cannot store as field names (dots, leading $), as JSON. */
  metadata_json?: string;
  tags: string[];
  created_at: Date;
  updated_at: Date;
  expires_at: Date | null;
  access_count: number;
  cache_version: number;
}

/** The tiers' default timeoutMs (config/fields.ts), for a tier built without a config. */
const DEFAULT_TIMEOUT_MS = 1_000;
const DEFAULT_ORPHAN_GRACE_MS = 10 * 60_000;
/** Times a hit reads its document again when the GridFS file it names is not there (responseText). */
const FILE_READ_RETRIES = 3;

const HIT_PROJECTION = { response: 1, expires_at: 1 } as const;
const BATCH = 500;
const FLUSH_BATCH = 100;
/** MongoDB's duplicate key error: two upserts of one new key raced, and the loser may retry as an update. */
const DUPLICATE_KEY = 11000;

export class MongodbTier extends ServerTier implements Tier {
  readonly name: string;
  readonly type = 'mongodb';
  private readonly client: MongoClient;
  private readonly db: Db;
  private readonly docs: Collection<CacheDocument>;
  /** Large answers in GridFS (gridfs.ts). */
  private readonly answerFiles: AnswerFiles;
  private ttlIndex = false;
  private flushing: Promise<void> | undefined;

  constructor(private readonly options: MongodbTierOptions) {
    super();
    this.name = options.name ?? 'mongodb';
    const abandonedAfterMs = Math.max(
      options.connectTimeoutMs,
      5 * (options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    );
    this.client = new MongoClient(options.url, {
      appName: 'strata',
      maxPoolSize: options.poolSize,
      // A lost server fails calls after this long instead of queueing them; the manager's
      // timeout turns anything slower into a miss. The driver reconnects on its own.
      serverSelectionTimeoutMS: options.connectTimeoutMs,
      connectTimeoutMS: options.connectTimeoutMs,
      // A reply the network dropped (a blackholed link) leaves its connection waiting forever,
      // and the manager, which gave up on the call after timeoutMs, cannot free it: once every
      // pooled connection waits so, the tier never answers again, even after the link is back
      // (the chaos suite's blackhole case). A connection silent this long mid-call is closed
      // instead. Every call through the manager is abandoned after timeoutMs anyway; the margin
      // is for the tier's own purge, which nobody times.
      socketTimeoutMS: abandonedAfterMs,
      // Likewise a call waiting for a pooled connection: the manager gave up on it long ago, and
      // a queue of such calls would hold every connection the link gives back after a fault.
      waitQueueTimeoutMS: abandonedAfterMs,
      // After a network error the driver clears the pool and pauses it until its monitor sees the
      // server again; at the default 10 s between checks a flapping link kept the tier out that
      // long and more (the chaos suite's flapping case).
      heartbeatFrequencyMS: 1_000,
    });
    this.db = this.client.db(options.database);
    this.docs = this.db.collection<CacheDocument>(options.collection);
    this.answerFiles = new AnswerFiles(this.db, `${options.collection}_fs`);
    this.startUpkeep(options.purgeIntervalMs);
  }

  get(key: CacheKey): Promise<string | undefined> {
    if (!this.setup.done) return this.setup.ready().then(() => this.get(key));
    return this.docs
      .findOne({ _id: key.hash }, { projection: HIT_PROJECTION })
      .then((doc) => this.payloadOf(key, doc));
  }

  async set(key: CacheKey, entry: StoredEntry): Promise<boolean> {
    await this.setup.ready();
    const now = new Date(this.options.clock.now());
    const fileId = entry.size > this.options.gridfsThresholdBytes ? new ObjectId() : undefined;
    if (fileId) await this.answerFiles.upload(fileId, key.hash, entry.payload);
    const response: StoredResponse = fileId
      ? { storage: 'gridfs', gridfsId: fileId, size: entry.size, encoding: 'utf8' }
      : { storage: 'inline', content: entry.payload, size: entry.size, encoding: 'utf8' };
    const fields: Omit<CacheDocument, '_id' | 'access_count' | 'cache_version'> = {
      namespace: key.namespace,
      llm_string: key.llmString,
      response,
      tags: [...new Set(entry.tags)],
      created_at: new Date(entry.createdAt),
      updated_at: now,
      expires_at: entry.expiresAt === null ? null : new Date(entry.expiresAt),
      // A prompt too large for the document stays only in the payload (which holds it whole).
      ...(entry.prompt !== undefined && Buffer.byteLength(entry.prompt) <= this.options.gridfsThresholdBytes
        ? { prompt: entry.prompt }
        : {}),
      ...(entry.usage ? { usage: entry.usage } : {}),
      ...metadataFields(entry.metadata),
    };
    const upsert = () =>
      this.docs.findOneAndUpdate(
        { _id: key.hash },
        {
          $set: fields,
          ...unsetAbsent(fields),
          $setOnInsert: { access_count: 0 },
          $inc: { cache_version: 1 },
        },
        // No projection: FerretDB 1.x does not implement one on findAndModify.
        { upsert: true, returnDocument: 'before' },
      );
    let previous: Pick<CacheDocument, 'response'> | null;
    try {
      previous = await upsert().catch((error: unknown) => {
        if ((error as { code?: unknown }).code === DUPLICATE_KEY) return upsert();
        throw error;
      });
    } catch (error) {
      if (fileId) await this.answerFiles.remove([fileId]).catch(() => {});
      throw error;
    }
    // The document no longer points to the file it replaced: remove it (the sweep would, later).
    const replaced = previous?.response.storage === 'gridfs' ? previous.response.gridfsId : undefined;
    if (replaced && !replaced.equals(fileId)) await this.answerFiles.remove([replaced]).catch(() => {});
    return true;
  }

  async delete(key: CacheKey): Promise<boolean> {
    await this.setup.ready();
    this.access.forget(key.hash);
    const removed = await this.docs.findOneAndDelete({ _id: key.hash });
    // Every file written for the key goes with it, not only the one the document named: a file
    // another write left behind (its document write lost or failed) would otherwise wait for
    // the sweep. A write of this key racing the delete loses its file, and its document then
    // reads as corrupt and is removed: the delete wins, one of the two valid outcomes.
    const files = await this.answerFiles.ofKey(key.hash);
    const named = removed?.response.storage === 'gridfs' ? removed.response.gridfsId : undefined;
    if (named && !files.some((id) => id.equals(named))) files.push(named);
    if (files.length > 0) await this.answerFiles.remove(files);
    return removed !== null;
  }

  clear(namespace?: string): Promise<number> {
    return this.deleteWhere(namespace === undefined ? {} : { namespace: { $eq: namespace } });
  }

  invalidateTag(tag: string, namespace?: string): Promise<number> {
    return this.deleteWhere({
      tags: { $eq: tag },
      ...(namespace === undefined ? {} : { namespace: { $eq: namespace } }),
    });
  }

  /** Removes expired documents with their GridFS files, then any unreferenced GridFS file. */
  async purgeExpired(): Promise<number> {
    const removed = await this.deleteWhere({ expires_at: { $lte: new Date(this.options.clock.now()) } });
    await this.sweepOrphanFiles();
    return removed;
  }

  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    await this.setup.ready();
    const filter = namespace === undefined ? {} : { namespace: { $eq: namespace } };
    const cursor = this.docs
      .find(filter, { projection: { namespace: 1, response: 1, expires_at: 1, access_count: 1 } })
      .sort({ _id: 1 })
      .batchSize(BATCH);
    for await (const doc of cursor) {
      if (this.expired(doc)) continue;
      const payload = await this.responseText(doc._id, doc.response);
      if (payload === undefined) continue;
      yield { namespace: doc.namespace, hash: doc._id, payload, accessCount: doc.access_count };
    }
  }

  /** Counts by aggregation: documents and hits per namespace, sizes, and what GridFS holds. */
  async stats(): Promise<TierStats> {
    await this.setup.ready();
    const namespaces = await this.sumBy(this.docs, '$namespace', 1);
    const hits = await this.sumBy(this.docs, null, '$access_count');
    const bytes = await this.sumBy(this.docs, null, '$response.size');
    const files = await this.sumBy(this.answerFiles.files, null, 1);
    const fileBytes = await this.sumBy(this.answerFiles.files, null, '$length');
    const entries = Object.values(namespaces).reduce((a, b) => a + b, 0);
    const total = (sums: Record<string, number>) => sums.all ?? 0;
    return {
      entries,
      bytes: total(bytes),
      namespaces,
      totalHits: total(hits),
      averageBytes: entries === 0 ? 0 : total(bytes) / entries,
      gridfsFiles: total(files),
      gridfsBytes: total(fileBytes),
      ttlIndex: this.ttlIndex ? 1 : 0,
      orphanFilesRemoved: this.answerFiles.orphansRemoved,
    };
  }

  async health(): Promise<TierHealth> {
    if (this.closed) return { status: 'down', reason: 'closed' };
    await this.db.command({ ping: 1 });
    return { status: 'up' };
  }

  protected async disconnect(): Promise<void> {
    await this.client.close();
  }

  // -------------------------------------------------------------------------------------------

  /**
   * One `$group` with one `$sum` per call: FerretDB 1.24 computes only the first field-path
   * `$sum` of a group correctly (the others come back 0), so each figure is its own pipeline.
   */
  private async sumBy(
    collection: Pick<Collection, 'aggregate'>,
    by: string | null,
    value: string | 1,
  ): Promise<Record<string, number>> {
    const groups = await collection
      .aggregate<{ _id: string | null; sum: number }>([{ $group: { _id: by, sum: { $sum: value } } }])
      .toArray();
    return Object.fromEntries(groups.map((g) => [g._id ?? 'all', Number(g.sum)]));
  }

  private async payloadOf(
    key: CacheKey,
    doc: Pick<CacheDocument, '_id' | 'response' | 'expires_at'> | null,
  ): Promise<string | undefined> {
    if (!doc || this.expired(doc)) return undefined;
    const payload = await this.responseText(key.hash, doc.response);
    if (payload !== undefined) this.access.record(key.hash);
    return payload;
  }

  private expired(doc: Pick<CacheDocument, 'expires_at'>): boolean {
    return doc.expires_at !== null && doc.expires_at.getTime() <= this.options.clock.now();
  }

  /**
   * The payload a response holds. A GridFS file can vanish between reading the document and the
   * file when a writer replaces or deletes the entry meanwhile, and a server can show a document
   * before the file written ahead of it (FerretDB on SQLite under load, once in many CI runs, read
   * a just-written document whose file it did not show yet): the document is read again, after a
   * short wait, up to three times. A document whose file is gone for good answers an empty
   * payload, which the manager counts as corrupt and removes.
   */
  private async responseText(
    hash: string,
    response: StoredResponse,
    attempt = 0,
  ): Promise<string | undefined> {
    if (response.storage === 'inline') return response.content;
    try {
      return await this.answerFiles.download(response.gridfsId);
    } catch (error) {
      if (await this.answerFiles.exists(response.gridfsId)) throw error;
      if (attempt >= FILE_READ_RETRIES) return '';
      await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
      const again = await this.docs.findOne({ _id: hash }, { projection: HIT_PROJECTION });
      if (!again || this.expired(again)) return undefined;
      return this.responseText(hash, again.response, attempt + 1);
    }
  }

  /** Deletes matching documents, then the GridFS files they pointed to. */
  private async deleteWhere(filter: Record<string, unknown>): Promise<number> {
    await this.setup.ready();
    const withFiles = await this.docs
      .find({ ...filter, 'response.storage': { $eq: 'gridfs' } }, { projection: { response: 1 } })
      .toArray();
    const { deletedCount } = await this.docs.deleteMany(filter);
    const ids = withFiles.flatMap((d) => (d.response.storage === 'gridfs' ? [d.response.gridfsId] : []));
    await this.answerFiles.remove(ids);
    return deletedCount;
  }

  /** Removes GridFS files no document points to (gridfs.ts), past the grace period for uploads in flight. */
  private sweepOrphanFiles(): Promise<number> {
    return this.answerFiles.sweepOrphans(
      this.options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS,
      async (ids) => {
        const docs = await this.docs
          .find({ 'response.gridfsId': { $in: ids } }, { projection: { response: 1 } })
          .toArray();
        return new Set(
          docs.map((d) => (d.response.storage === 'gridfs' ? d.response.gridfsId.toHexString() : '')),
        );
      },
    );
  }

  /** Creates the indexes (ServerTier runs it once per process, on first use). */
  protected async prepare(): Promise<void> {
    await this.docs.createIndex({ llm_string: 1 }, { name: 'llm_string' });
    await this.docs.createIndex({ tags: 1 }, { name: 'tags' });
    await this.docs.createIndex({ namespace: 1 }, { name: 'namespace' });
    try {
      // Only inline documents: the server's TTL monitor would leave a GridFS-backed one's file behind.
      await this.docs.createIndex(
        { expires_at: 1 },
        {
          name: 'expires_at_ttl',
          expireAfterSeconds: 0,
          partialFilterExpression: { 'response.storage': 'inline' },
        },
      );
      this.ttlIndex = true;
    } catch {
      // No TTL indexes here (FerretDB 1.x: NotImplemented). Reads filter by expires_at anyway,
      // and the periodic purge removes expired documents.
      await this.docs.createIndex({ expires_at: 1 }, { name: 'expires_at' });
      this.ttlIndex = false;
    }
  }

  /**
   * Writes batched hit counts: one updateMany per distinct count (most keys were hit once or
   * twice), 100 keys at a time, never two flushes at once. Per-key update statements made
   * FerretDB 1.24 stall under concurrent reads: each one scans, and overlapping flushes piled up.
   */
  protected flush(): Promise<void> {
    this.flushing ??= this.writeAccessCounts().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async writeAccessCounts(): Promise<void> {
    if (this.closed) return;
    const taken = this.access.take();
    if (!taken) return;
    const byCount = new Map<number, string[]>();
    for (const [hash, n] of taken.counts) {
      const hashes = byCount.get(n);
      if (hashes) hashes.push(hash);
      else byCount.set(n, [hash]);
    }
    for (const [n, hashes] of byCount) {
      for (let i = 0; i < hashes.length; i += FLUSH_BATCH) {
        await this.docs.updateMany(
          { _id: { $in: hashes.slice(i, i + FLUSH_BATCH) } },
          { $inc: { access_count: n } },
        );
      }
    }
  }
}

/**
 * Metadata as a sub-document where MongoDB can store its keys as field names, otherwise as JSON
 * (keys with dots or a leading $ are refused by some servers and ambiguous in queries). The
 * payload holds the metadata either way; this copy is for inspection.
 */
function metadataFields(metadata: Record<string, unknown> | undefined): Partial<CacheDocument> {
  if (metadata === undefined) return {};
  return safeFieldNames(metadata) ? { metadata } : { metadata_json: JSON.stringify(metadata) };
}

function safeFieldNames(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(safeFieldNames);
  if (value === null || typeof value !== 'object') return true;
  return Object.entries(value).every(
    ([k, v]) =>
      k.length > 0 && !k.startsWith('$') && !k.includes('.') && !k.includes('\0') && safeFieldNames(v),
  );
}

/** Optional fields an overwrite must remove when the new entry lacks them (no empty $unset: some servers refuse it). */
function unsetAbsent(fields: Partial<CacheDocument>): { $unset?: Record<string, ''> } {
  const absent = (['prompt', 'usage', 'metadata', 'metadata_json'] as const).filter((f) => !(f in fields));
  return absent.length === 0 ? {} : { $unset: Object.fromEntries(absent.map((f) => [f, ''])) };
}
