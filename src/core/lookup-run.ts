/**
 * One lookup in flight, as a continuation: the manager's waterfall (manager.ts) reads tiers in
 * order and stops at the first asynchronous read; the read settles into `readSettled` (or, at
 * its deadline, `expired`), and the waterfall goes on from the same tier. The run is the only
 * object a lookup allocates for itself: it is the read's waiter and its deadline (deadlines.ts),
 * so a Redis hit costs the driver's promise, one `then` on it, and whatever the receiver builds.
 * A memory hit runs to the end before `lookupInto` returns.
 */
import type { Sealer } from './encryption/keyring.js';
import type { Hit } from './events.js';
import type { Read, ReadWaiter } from './guarded-tier.js';
import type { CacheKey } from './key.js';
import type { LookupOptions } from './options.js';
import type { Operation, TierNote } from './tracing.js';

/** Told a lookup's outcome exactly once: `found` (undefined for a miss), or `failed` for a fault of the path itself. */
export interface LookupReceiver {
  found(hit: Hit | undefined): void;
  failed(error: unknown): void;
}

/** The manager's side of a run: where a settled read goes on. */
export interface Waterfall {
  readSettled(run: LookupRun, read: Read): void;
}

export class LookupRun implements ReadWaiter {
  /** The deadline this run's pending read waits on (deadlines.ts); 0 while no read is pending. */
  armed = 0;
  /** The tier being read (an index into the manager's tiers). */
  tier = 0;
  /** Whether this run leads the key's flight: concurrent lookups of the key wait for its answer. */
  led = false;
  /** The receiver was told. */
  done = false;
  readonly start = performance.now();
  readonly sealer: Sealer | undefined;
  /** Whether the hit's entry may be the shared, frozen answer (LookupOptions.shared). */
  readonly shared: boolean;
  readonly claim: boolean;
  readonly wait: NonNullable<LookupOptions['wait']>;
  /** A caller whose wait is bounded never takes over a flight it did not wait for. */
  readonly bounded: boolean;
  trace: Operation | undefined;
  /** The tracing note of the read under way, told when it times out. */
  note: TierNote | undefined;

  constructor(
    private readonly waterfall: Waterfall,
    readonly key: CacheKey,
    options: LookupOptions | undefined,
    readonly receiver: LookupReceiver,
  ) {
    this.sealer = options?.sealer;
    this.shared = options?.shared === true;
    this.claim = options?.claim !== false;
    this.wait = options?.wait ?? 'lease';
    this.bounded = this.wait !== 'lease';
  }

  readSettled(read: Read): void {
    this.waterfall.readSettled(this, read);
  }

  expired(): void {
    if (this.note) this.note.failure = 'timeout';
    this.waterfall.readSettled(this, undefined);
  }
}
