/**
 * Every error Strata throws, in one place. Each has a stable `code` to branch on (messages may be
 * reworded; codes are not) and a `name` for logs. What reaches an application:
 *
 *   STRATA_CONFIG          createCache / parseConfig / loadConfig: the config cannot work; `issues`
 *                          names every bad field by path (`tiers[1].path`).
 *   STRATA_CACHE_MISS      withCache's `only-if-cached` found nothing; the model was not called.
 *   STRATA_SERVE_CONFIG    startServer / `strata serve`: an address or token it refuses to use.
 *   STRATA_INCOMPLETE_OPERATION
 *                          clear / invalidateTag / delete could not run on every tier; `removed`
 *                          counts what the others removed, `failures` names each tier and why.
 *
 * And what stays inside (counted, logged once, shown in health(); never thrown into the LLM call
 * path), exported so that tests, custom tiers and event listeners can recognize them:
 *
 *   STRATA_TIER_TIMEOUT    a tier call ran past its `timeoutMs` (the `error` event's error).
 *   STRATA_TIER_CONFIG     a driver found its options unusable (createCache reports it as STRATA_CONFIG).
 *   STRATA_SQLITE_OPEN     a SQLite file this version cannot use (newer, foreign, damaged): the tier is down.
 *   STRATA_ONNX_SETUP      the onnx runtime or model is not installed (reported as STRATA_CONFIG).
 */

export type StrataErrorCode =
  | 'STRATA_CONFIG'
  | 'STRATA_CACHE_MISS'
  | 'STRATA_SERVE_CONFIG'
  | 'STRATA_INCOMPLETE_OPERATION'
  | 'STRATA_TIER_TIMEOUT'
  | 'STRATA_TIER_CONFIG'
  | 'STRATA_SQLITE_OPEN'
  | 'STRATA_ONNX_SETUP';

/** The base of every Strata error. */
export abstract class StrataError extends Error {
  abstract readonly code: StrataErrorCode;
}

/** The config cannot work; `issues` lists every bad field by path. */
export class StrataConfigError extends StrataError {
  readonly code = 'STRATA_CONFIG';
  override readonly name = 'StrataConfigError';
  constructor(
    readonly issues: Array<{ path: string; message: string }>,
    options?: ErrorOptions,
  ) {
    super(
      `invalid Strata config: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
      options,
    );
  }
}

/** Thrown by `only-if-cached` on a miss; the model was not called. */
export class CacheMissError extends StrataError {
  readonly code = 'STRATA_CACHE_MISS';
  override readonly name = 'CacheMissError';
  constructor(readonly key: string) {
    super(`strata: no cached answer for this request (only-if-cached); key ${key.slice(0, 12)}`);
  }
}

/** `strata serve` / startServer refuses an address or token. */
export class ServeConfigError extends StrataError {
  readonly code = 'STRATA_SERVE_CONFIG';
  override readonly name = 'ServeConfigError';
}

/** One tier that could not do its part of an operation, and why. */
export interface TierFailure {
  readonly tier: string;
  readonly reason: string;
}

/**
 * An erasure (`clear`, `invalidateTag`, `delete`) that some tier could not run (down, locked,
 * failing). `removed` counts what the tiers that ran it removed; `failures` names the others and
 * why. While the cache stays open, each failed erasure is retried in the background until it has
 * run, and that tier's reads skip the entries it covers meanwhile (`retrying`); a cache closed
 * first drops it: not done.
 */
export class IncompleteOperationError extends StrataError {
  readonly code = 'STRATA_INCOMPLETE_OPERATION';
  override readonly name = 'IncompleteOperationError';
  constructor(
    readonly op: string,
    readonly removed: number,
    readonly failures: readonly TierFailure[],
    readonly retrying: boolean,
  ) {
    const where = failures.map((f) => `tier ${f.tier} (${f.reason})`).join('; ');
    super(
      `${op} not done on ${where}; the other tiers removed ${removed} entries. ` +
        (retrying
          ? 'It is retried in the background while this cache stays open, and reads from that tier skip what it covers until it has run; if the cache is closed first, it is not done'
          : 'The cache is closed: not done'),
    );
  }
}

/** A tier call ran past its deadline; the manager counts it as a timeout and answers a miss. */
export class TierTimeoutError extends StrataError {
  readonly code = 'STRATA_TIER_TIMEOUT';
  override readonly name = 'TierTimeoutError';
  constructor(
    readonly tier: string,
    readonly op: string,
    readonly timeoutMs: number,
  ) {
    super(`tier ${tier}: ${op} timed out after ${timeoutMs} ms`);
  }
}

/** The tier's config cannot work, whatever the backend's state (createCache reports it as a config error). */
export class TierConfigError extends StrataError {
  readonly code = 'STRATA_TIER_CONFIG';
  override readonly name = 'TierConfigError';
}

/** A SQLite file this version cannot use; the message is the reason, ready for health(). */
export class SqliteOpenError extends StrataError {
  readonly code = 'STRATA_SQLITE_OPEN';
  override readonly name = 'SqliteOpenError';
}

/** What no retry can fix: the onnx runtime package or the model files are not installed. */
export class OnnxSetupError extends StrataError {
  readonly code = 'STRATA_ONNX_SETUP';
  override readonly name = 'OnnxSetupError';
}

/** Anything thrown, as an Error (a rejected promise may carry a string, or nothing). */
export function errorOf(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
