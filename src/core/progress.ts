/**
 * Progress of long work a tier does on its own while it opens (the semantic tier indexing every
 * stored vector when no saved graph describes them). Tiers report counts through TierContext's
 * `onProgress`; where they go is the opener's choice (CreateOptions.onProgress): the CLI draws
 * its progress bar, and a library's default is `progressLines`, a few warnings through the logger
 * for work long enough to wonder about, and nothing for work that ends quickly.
 */
import type { Logger } from './events.js';

export interface ProgressEvent {
  /** The tier's name, as in stats. */
  tier: string;
  /** What is counted, e.g. "entries indexed". */
  task: string;
  /** How many so far; `done === total` ends the work. */
  done: number;
  total: number;
}

export type ProgressListener = (event: ProgressEvent) => void;

/** Work shorter than this says nothing; longer work says how far it is at most every INTERVAL_MS. */
export const QUIET_MS = 2_000;
export const INTERVAL_MS = 5_000;

/**
 * Progress as logger lines: the first once the work has run QUIET_MS, then at most every
 * INTERVAL_MS, and a last one when work that was reported ends.
 */
export function progressLines(logger: Logger, now: () => number = () => performance.now()): ProgressListener {
  const running = new Map<string, { start: number; said: number | undefined }>();
  return ({ tier, task, done, total }) => {
    const id = `${tier}\u0000${task}`;
    const t = now();
    let work = running.get(id);
    if (!work) {
      work = { start: t, said: undefined };
      running.set(id, work);
    }
    const seconds = Math.round((t - work.start) / 1000);
    if (done >= total) {
      running.delete(id);
      if (work.said !== undefined) logger.warn(`[strata] tier ${tier}: ${total} ${task} in ${seconds} s`);
      return;
    }
    const due = work.said === undefined ? t - work.start >= QUIET_MS : t - work.said >= INTERVAL_MS;
    if (!due) return;
    work.said = t;
    const share = total > 0 ? Math.floor((done / total) * 100) : 0;
    logger.warn(`[strata] tier ${tier}: ${done} of ${total} ${task} (${share}%), ${seconds} s so far`);
  };
}
