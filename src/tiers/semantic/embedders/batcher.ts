/**
 * Micro-batching for a local model (onnx.ts): texts of concurrent `embed()` calls share model
 * runs instead of each starting its own. A batch takes texts from the head of the queue, in
 * arrival order, up to `maxTexts` texts and `maxTokens` padded tokens (texts × the longest one's
 * tokens), and runs them in runs of similar length (`plan`): every padded position costs the
 * model as much as a real token, so one long text must not make 63 short ones cost 63 long ones.
 * Texts that arrive meanwhile form the next batch, which starts as soon as this one ends; a text
 * that reaches an idle batcher waits at most `maxWaitMs` for others (0: only until the current
 * turn of the event loop ends, so the calls of one burst share a batch).
 *
 * Padding and the attention mask keep each row's result independent of its run mates
 * (batcher.int.test.ts checks batched against single runs). A run that fails is retried one text
 * at a time, so a text the model cannot run fails its own caller only. One run at a time: the
 * model's threads are not split between competing runs, and the run's input buffers are reused.
 */
import { TierUnavailableError } from '../../../errors.js';

export interface BatchingOptions {
  /** How long a text reaching an idle batcher waits for others to share its run, in ms (0: none beyond the current turn of the event loop). */
  maxWaitMs: number;
  /** Texts per run, at most. */
  maxTexts: number;
  /** Padded tokens per run, at most: texts × the longest text's tokens (a single longer text still runs, alone). */
  maxTokens: number;
}

export const DEFAULT_BATCHING: Readonly<BatchingOptions> = { maxWaitMs: 0, maxTexts: 64, maxTokens: 8192 };

interface Item {
  tokens: readonly number[];
  resolve(vector: Float32Array): void;
  reject(error: unknown): void;
}

/** Runs the model on rows of token ids (one per text) and returns one vector per row, in order. */
export type ModelRun = (rows: ReadonlyArray<readonly number[]>) => Promise<Float32Array[]>;

export class EmbedBatcher {
  private queue: Item[] = [];
  private running: Promise<void> | undefined;
  private timer:
    | { kind: 'timeout'; handle: NodeJS.Timeout }
    | { kind: 'immediate'; handle: NodeJS.Immediate }
    | undefined;
  private closed = false;
  /** Model runs started, and texts they embedded (stats for tests and benchmarks). */
  runs = 0;
  texts = 0;

  constructor(
    private readonly run: ModelRun,
    private readonly options: BatchingOptions,
  ) {}

  /** Nothing queued, no run in progress and no timer set. */
  get idle(): boolean {
    return this.queue.length === 0 && !this.running && !this.timer;
  }

  /** One caller's texts, already tokenized: their vectors, in order. */
  embed(rows: ReadonlyArray<readonly number[]>): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(new TierUnavailableError('the embedder is closed'));
    const out = Promise.all(
      rows.map(
        (tokens) =>
          new Promise<Float32Array>((resolve, reject) => this.queue.push({ tokens, resolve, reject })),
      ),
    );
    this.schedule();
    return out;
  }

  /** Fails what is queued and not started, and waits for the run in progress (its callers get their vectors). */
  async close(): Promise<void> {
    this.closed = true;
    this.clearTimer();
    const queued = this.queue;
    this.queue = [];
    for (const item of queued)
      item.reject(new TierUnavailableError('the embedder was closed before this text ran'));
    await this.running;
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length >= this.options.maxTexts) {
      this.clearTimer();
      this.start();
      return;
    }
    if (this.timer) return;
    const fire = () => {
      this.timer = undefined;
      this.start();
    };
    this.timer =
      this.options.maxWaitMs > 0
        ? { kind: 'timeout', handle: setTimeout(fire, this.options.maxWaitMs) }
        : { kind: 'immediate', handle: setImmediate(fire) };
  }

  private clearTimer(): void {
    if (this.timer?.kind === 'timeout') clearTimeout(this.timer.handle);
    else if (this.timer) clearImmediate(this.timer.handle);
    this.timer = undefined;
  }

  /** Takes the next run's texts from the head of the queue and runs them; then the next run, if texts wait. */
  private start(): void {
    if (this.running || this.queue.length === 0) return;
    let longest = 0;
    let count = 0;
    for (const item of this.queue) {
      const next = Math.max(longest, item.tokens.length);
      if (count > 0 && (count + 1 > this.options.maxTexts || (count + 1) * next > this.options.maxTokens))
        break;
      longest = next;
      count++;
    }
    const batch = this.queue.splice(0, count);
    this.running = this.runPlanned(batch).finally(() => {
      this.running = undefined;
      this.start();
    });
  }

  /** The batch's texts in runs of similar length, shortest first (see `plan`). */
  private async runPlanned(batch: Item[]): Promise<void> {
    for (const run of plan(batch)) await this.runBatch(run);
  }

  private async runBatch(batch: Item[]): Promise<void> {
    try {
      const vectors = await this.counted(batch);
      for (const [i, item] of batch.entries()) item.resolve(vectors[i]!);
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      // One text the model cannot run must not fail the others that shared its run.
      for (const item of batch) {
        try {
          item.resolve((await this.counted([item]))[0]!);
        } catch (own) {
          item.reject(own);
        }
      }
    }
  }

  private async counted(batch: Item[]): Promise<Float32Array[]> {
    this.runs++;
    this.texts += batch.length;
    const vectors = await this.run(batch.map((item) => item.tokens));
    if (vectors.length !== batch.length)
      throw new Error(`the model returned ${vectors.length} vectors for ${batch.length} texts`);
    return vectors;
  }
}

/**
 * What a model run costs besides its tokens, in tokens: measured with all-MiniLM-L6-v2 on the
 * 2-core development machine, a run of one 17-token text took as long as ~22 tokens in a run of
 * 64 (bench/README.md, semantic throughput).
 */
export const RUN_COST_TOKENS = 8;

/**
 * Splits a batch into runs of similar length, so short texts are not padded to a long one's
 * length (every padded position costs the model as much as a real token): the split with the
 * least cost, each run costing `RUN_COST_TOKENS` plus its texts × its longest text (exact, by
 * dynamic programming over the texts sorted by length; 64 texts take ~2,000 steps).
 */
export function plan<T extends { tokens: readonly number[] }>(
  batch: readonly T[],
  runCost = RUN_COST_TOKENS,
): T[][] {
  const sorted = [...batch].sort((a, b) => a.tokens.length - b.tokens.length);
  const n = sorted.length;
  const best = new Float64Array(n + 1).fill(Number.POSITIVE_INFINITY);
  const from = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    const longest = sorted[j - 1]!.tokens.length;
    for (let i = 0; i < j; i++) {
      const cost = best[i]! + runCost + (j - i) * longest;
      if (cost < best[j]!) {
        best[j] = cost;
        from[j] = i;
      }
    }
  }
  const runs: T[][] = [];
  for (let j = n; j > 0; j = from[j]!) runs.unshift(sorted.slice(from[j]!, j));
  return runs;
}
