/**
 * What the soak holds the tiers to: every answer an update stored and a durable tier acknowledged
 * (the engine's `set` event names the tiers whose write succeeded), still within its TTL, and
 * not since replaced or erased by the workload, must be in that tier, byte for byte, at the end.
 *
 * An acknowledgement says something only about a write no other change of the same key raced:
 * two updates of one key in flight at once may land in either order in each tier, and an update
 * racing a delete or a tag invalidation may land before or after it. So each key remembers the
 * mutations in flight on it (its own, and its tag's invalidations); an update is recorded as
 * checkable only when nothing else touched its key from its start to its end. A later update
 * replaces the record (checkable or not), a later erasure removes it. Erasures that failed on a
 * tier (IncompleteOperationError: retried in the background) are kept with their time, so a
 * missing entry can be told apart: lost to such a retry, or lost otherwise.
 */

export interface Stored {
  kind: 'stored';
  /** The answer is answerFor(prompt, version): not kept, so the ledger stays small. */
  version: number;
  /** Durable tiers that acknowledged the write. */
  tiers: string[];
  /** ms since the epoch; null: never expires. */
  expiresAt: number | null;
  /** When the update was called, and (`at`) when it returned. */
  startedAt: number;
  at: number;
}

export type Record = Stored | { kind: 'raced'; at: number } | { kind: 'erased'; at: number };

interface KeyState {
  tag: string;
  inFlight: number;
  touches: number;
  record?: Record;
}

/** How many failure times are kept per tier and target (the latest): enough to explain a loss. */
const FAILURES_KEPT = 20;

export class Ledger {
  private readonly keys = new Map<string, KeyState>();
  private readonly tagInFlight = new Map<string, number>();
  private readonly tagTouches = new Map<string, number>();
  /**
   * When an erasure could not run on a tier (it is then retried in the background), per
   * `tier|tag` or `tier|prompt`: the latest times, oldest first.
   */
  private readonly failedErasures = new Map<string, number[]>();
  erasureFailures = 0;
  /** Updates that raced another change of their key (recorded, not checkable). */
  raced = 0;
  clean = 0;

  private state(prompt: string, tag: string): KeyState {
    let s = this.keys.get(prompt);
    if (!s) {
      s = { tag, inFlight: 0, touches: 0 };
      this.keys.set(prompt, s);
    }
    return s;
  }

  private inFlight(s: KeyState): number {
    return s.inFlight + (this.tagInFlight.get(s.tag) ?? 0);
  }

  private touches(s: KeyState): number {
    return s.touches + (this.tagTouches.get(s.tag) ?? 0);
  }

  /** An update of `prompt` starts; call the returned function with its outcome when it ends. */
  beginUpdate(
    prompt: string,
    tag: string,
  ): (outcome: Omit<Stored, 'kind' | 'at'> | undefined, now: number) => void {
    const s = this.state(prompt, tag);
    const alone = this.inFlight(s) === 0;
    const before = this.touches(s);
    s.inFlight++;
    s.touches++;
    return (outcome, now) => {
      s.inFlight--;
      const clean = alone && this.touches(s) === before + 1;
      if (clean && outcome) {
        this.clean++;
        s.record = { kind: 'stored', ...outcome, at: now };
      } else {
        if (outcome) this.raced++;
        s.record = { kind: 'raced', at: now };
      }
    };
  }

  /** A delete of `prompt` starts; the returned function ends it. */
  beginDelete(prompt: string, tag: string): (now: number) => void {
    const s = this.state(prompt, tag);
    s.inFlight++;
    s.touches++;
    return (now) => {
      s.inFlight--;
      s.record = { kind: 'erased', at: now };
    };
  }

  /** An invalidation of `tag` starts; the returned function ends it. */
  beginInvalidate(tag: string): (now: number) => void {
    this.tagInFlight.set(tag, (this.tagInFlight.get(tag) ?? 0) + 1);
    this.tagTouches.set(tag, (this.tagTouches.get(tag) ?? 0) + 1);
    return (now) => {
      this.tagInFlight.set(tag, this.tagInFlight.get(tag)! - 1);
      for (const s of this.keys.values()) if (s.tag === tag) s.record = { kind: 'erased', at: now };
    };
  }

  /** An erasure of `target` (a tag or a prompt) could not run on these tiers. */
  erasureFailed(target: string, tiers: readonly string[], at: number): void {
    this.erasureFailures++;
    for (const tier of tiers) {
      const key = `${tier}|${target}`;
      const times = this.failedErasures.get(key) ?? [];
      times.push(at);
      if (times.length > FAILURES_KEPT) times.shift();
      this.failedErasures.set(key, times);
    }
  }

  /** The latest failure, before `before`, of an erasure covering `prompt` (or its tag) on `tier`. */
  failedErasureBefore(tier: string, prompt: string, before: number): number | undefined {
    const tag = this.keys.get(prompt)?.tag;
    const times = [
      ...(this.failedErasures.get(`${tier}|${prompt}`) ?? []),
      ...(tag ? (this.failedErasures.get(`${tier}|${tag}`) ?? []) : []),
    ].filter((t) => t < before);
    return times.length > 0 ? Math.max(...times) : undefined;
  }

  /** Every key's last record. */
  entries(): Array<[string, KeyState & { record?: Record }]> {
    return [...this.keys.entries()];
  }
}
