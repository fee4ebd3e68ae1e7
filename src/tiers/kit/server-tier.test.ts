import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AccessBatchContents } from '../../core/access-batch.js';
import { FLUSH_MS, ServerTier } from './server-tier.js';

/** A server tier whose server is a list of what it was asked to do. */
class FakeTier extends ServerTier {
  readonly log: string[] = [];
  failWrites = false;
  prepares = 0;

  constructor(purgeMs: number) {
    super();
    this.startUpkeep(purgeMs);
  }

  async hit(hash: string): Promise<void> {
    await this.setup.ready();
    this.access.record(hash);
  }

  async purgeExpired(): Promise<number> {
    this.log.push('purge');
    return 0;
  }

  protected async prepare(): Promise<void> {
    this.prepares++;
    if (this.prepares === 1) throw new Error('server down');
  }

  protected flush(): Promise<void> {
    return this.flushBatch(async ({ counts }: AccessBatchContents) => {
      if (this.failWrites) throw new Error('write failed');
      this.log.push(`counts ${JSON.stringify(counts)}`);
    });
  }

  protected async disconnect(): Promise<void> {
    this.log.push('disconnect');
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the server tier base', () => {
  it('sets up once, retrying after a failed attempt, and writes counts on its timer', async () => {
    vi.useFakeTimers();
    const tier = new FakeTier(0);
    await expect(tier.hit('a')).rejects.toThrow('server down');
    await tier.hit('a');
    await tier.hit('a');
    expect(tier.prepares).toBe(2);
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    expect(tier.log).toEqual(['counts [["a",2]]']);
    await tier.close();
  });

  it('gives the counts of a failed write back, and close writes them once more before disconnecting', async () => {
    vi.useFakeTimers();
    const tier = new FakeTier(0);
    await tier.hit('a').catch(() => {});
    await tier.hit('b');
    tier.failWrites = true;
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    tier.failWrites = false;
    await tier.close();
    await tier.close();
    expect(tier.log).toEqual(['counts [["b",1]]', 'disconnect']);
  });

  it('purges on its own timer when given a period', async () => {
    vi.useFakeTimers();
    const tier = new FakeTier(5_000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(tier.log.filter((l) => l === 'purge')).toHaveLength(2);
    await tier.close();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(tier.log.filter((l) => l === 'purge')).toHaveLength(2);
  });
});
