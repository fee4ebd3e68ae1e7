/**
 * Large answers in GridFS (`<collection>_fs`), and their lifecycle: a file is written before the
 * document that points to it, removed after the document that pointed to it, and a periodic
 * sweep removes files no document points to (an upload whose document write failed, a crash
 * between the two). Chunks are removed before their file entry, so an interrupted removal leaves
 * something the sweep still finds.
 */
import { type Collection, type Db, GridFSBucket, ObjectId } from 'mongodb';

const BATCH = 500;

export class AnswerFiles {
  private readonly bucket: GridFSBucket;
  readonly files: Collection<{ _id: ObjectId; length: number; filename?: string }>;
  private readonly chunks: Collection<{ files_id: ObjectId }>;
  /** Files the sweep removed since start (reported in stats). */
  orphansRemoved = 0;

  constructor(db: Db, bucketName: string) {
    this.bucket = new GridFSBucket(db, { bucketName });
    this.files = db.collection(`${bucketName}.files`);
    this.chunks = db.collection(`${bucketName}.chunks`);
  }

  upload(id: ObjectId, hash: string, payload: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const stream = this.bucket.openUploadStreamWithId(id, hash, { metadata: { key_hash: hash } });
      stream.once('finish', () => resolve());
      stream.once('error', reject);
      stream.end(Buffer.from(payload, 'utf8'));
    }).catch(async (error: unknown) => {
      // Chunks written before the failure would be orphans: remove them now if the server lets us.
      await this.remove([id]).catch(() => {});
      throw error;
    });
  }

  async download(id: ObjectId): Promise<string> {
    const parts: Buffer[] = [];
    for await (const part of this.bucket.openDownloadStream(id)) parts.push(part as Buffer);
    return Buffer.concat(parts).toString('utf8');
  }

  async exists(id: ObjectId): Promise<boolean> {
    return (await this.files.countDocuments({ _id: id }, { limit: 1 })) > 0;
  }

  /** The files written for one key (each file is named by its key hash). */
  async ofKey(hash: string): Promise<ObjectId[]> {
    const files = await this.files
      .find({ filename: { $eq: hash } } as never, { projection: { _id: 1 } })
      .toArray();
    return files.map((f) => f._id);
  }

  /** Chunks first: a file entry without chunks is still found by the sweep, chunks without one too. */
  async remove(ids: ObjectId[]): Promise<void> {
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      await this.chunks.deleteMany({ files_id: { $in: batch } });
      await this.files.deleteMany({ _id: { $in: batch } });
    }
  }

  /**
   * Removes files no document points to, among those started more than `graceMs` ago (a file id
   * is an ObjectId minted when its upload began; newer files may be uploads in flight).
   * `referenced` says which of a batch of ids a document points to.
   */
  async sweepOrphans(
    graceMs: number,
    referenced: (ids: ObjectId[]) => Promise<Set<string>>,
  ): Promise<number> {
    // Date.now(), not an injected clock: a file id is minted by the driver from the real clock.
    const before = ObjectId.createFromTime(Math.ceil((Date.now() - graceMs) / 1000));
    const candidates = new Map<string, ObjectId>();
    for (const id of await this.chunks.distinct('files_id', { files_id: { $lt: before } }))
      candidates.set(id.toHexString(), id);
    for (const f of await this.files.find({ _id: { $lt: before } }, { projection: { _id: 1 } }).toArray())
      candidates.set(f._id.toHexString(), f._id);
    const ids = [...candidates.values()];
    let removed = 0;
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      const pointedTo = await referenced(batch);
      const orphans = batch.filter((id) => !pointedTo.has(id.toHexString()));
      await this.remove(orphans);
      removed += orphans.length;
    }
    this.orphansRemoved += removed;
    return removed;
  }
}
