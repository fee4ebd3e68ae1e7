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
 *   STRATA_SCHEMA_NEWER    a tier's tables were written by a newer Strata: left untouched, the tier is down.
 *   STRATA_TIER_UNAVAILABLE
 *                          a tier's backend did not answer (not connected yet, an HTTP failure).
 *   STRATA_TIER_READONLY   a write to a tier opened read-only (inspecting commands).
 *   STRATA_WRITES_LOST     SQLite's flush(): accepted writes that could not be written.
 *   STRATA_MODEL_UNIDENTIFIED
 *                          a LangChain model whose identity cannot be read: its calls are not cached.
 *   STRATA_NO_CACHE_FILE   a CLI command that reads or erases was given SQLite files that do not exist.
 *
 * How codes are named: `STRATA_` and then, in upper snake case, the subject first and the problem
 * after it (`STRATA_TIER_TIMEOUT`, `STRATA_SQLITE_OPEN`, `STRATA_SERVE_CONFIG`); one code per
 * class (the gateway's two families below excepted: one class, a code per refusal), so a code
 * names one kind of failure and the class is found from it. A code, once
 * released, is public: it is never renamed or reused for another failure; a new failure gets a new
 * class and a new code (added to StrataErrorCode).
 *
 * An error thrown because another one was caught passes it on as `cause` (ES2022 ErrorOptions:
 * `new TierConfigError(message, { cause: error })`), so the first failure is still there to log.
 *
 * And what the gateway answers a client with, in the API's own error shape and status, never
 * thrown to an application:
 *
 *   STRATA_REQUEST_*       RequestError: a request refused before any upstream call (400, 404, 413).
 *   STRATA_UPSTREAM_*      UpstreamError: the upstream could not be reached or was too slow (502, 504).
 */

export type StrataErrorCode =
  | 'STRATA_CONFIG'
  | 'STRATA_CACHE_MISS'
  | 'STRATA_SERVE_CONFIG'
  | 'STRATA_INCOMPLETE_OPERATION'
  | 'STRATA_TIER_TIMEOUT'
  | 'STRATA_TIER_CONFIG'
  | 'STRATA_SQLITE_OPEN'
  | 'STRATA_ONNX_SETUP'
  | RequestErrorCode
  | UpstreamErrorCode
  | 'STRATA_SCHEMA_NEWER'
  | 'STRATA_TIER_UNAVAILABLE'
  | 'STRATA_TIER_READONLY'
  | 'STRATA_WRITES_LOST'
  | 'STRATA_NO_CACHE_FILE'
  | 'STRATA_MODEL_UNIDENTIFIED';

/** The base of every Strata error. */
export abstract class StrataError extends Error {
  abstract readonly code: StrataErrorCode;

  /** `options.cause`: the error this one was thrown for, if it wraps one. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
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
 * run, and that tier neither serves nor stores the entries it covers meanwhile (`retrying`); a cache closed
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
          ? 'It is retried in the background while this cache stays open, and that tier neither serves nor stores what it covers until it has run; if the cache is closed first, it is not done'
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
    // No cause: the deadline, not an error of the tier's, ended the call.
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

/** Why the gateway refuses a request, and the HTTP status each is answered with. */
const REQUEST_STATUS = {
  /** Not one of the other reasons (the default of a RequestError given no code). */
  STRATA_REQUEST_INVALID: 400,
  /** The body is larger than `maxRequestBytes`. */
  STRATA_REQUEST_TOO_LARGE: 413,
  /** No upstream is configured for the request's model. */
  STRATA_REQUEST_NO_UPSTREAM: 404,
  /** A body `cache` field that cannot be taken out without changing the rest of the body. */
  STRATA_REQUEST_CACHE_NOT_REMOVABLE: 400,
  /** A `Cache-Control` request directive with a value it cannot have. */
  STRATA_REQUEST_CACHE_CONTROL: 400,
  /** A body `cache` field (LiteLLM's) that is not an object of its known fields and values. */
  STRATA_REQUEST_CACHE_FIELD: 400,
  /** No `model`, or not a non-empty string. */
  STRATA_REQUEST_NO_MODEL: 400,
  /** No `messages` array (chat completions, Anthropic messages). */
  STRATA_REQUEST_NO_MESSAGES: 400,
  /** No `prompt` (completions). */
  STRATA_REQUEST_NO_PROMPT: 400,
  /** No `input` (embeddings, responses). */
  STRATA_REQUEST_NO_INPUT: 400,
  /** An `x-strata-feedback` header that is not `wrong <id>` or `right <id>` (proxy/feedback.ts). */
  STRATA_REQUEST_FEEDBACK: 400,
} as const;

export type RequestErrorCode = keyof typeof REQUEST_STATUS;

/** A request the gateway refuses before any upstream call, answered with `status` in the API's error shape. */
export class RequestError extends StrataError {
  override readonly name = 'RequestError';
  readonly status: number;
  constructor(
    message: string,
    readonly code: RequestErrorCode = 'STRATA_REQUEST_INVALID',
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = REQUEST_STATUS[code];
  }
}

/** Why an upstream call gave no answer, and the HTTP status the gateway answers with. */
const UPSTREAM_STATUS = {
  /** It did not connect or send its headers within `timeoutMs`. */
  STRATA_UPSTREAM_TIMEOUT: 504,
  /** It went silent mid-response for longer than `idleTimeoutMs`. */
  STRATA_UPSTREAM_STALLED: 504,
  /** It could not be reached, or broke the exchange off. */
  STRATA_UPSTREAM_UNREACHABLE: 502,
} as const;

export type UpstreamErrorCode = keyof typeof UPSTREAM_STATUS;

/** An upstream call that ended without an answer; the gateway answers 504 (too slow) or 502. */
export class UpstreamError extends StrataError {
  override readonly name = 'UpstreamError';
  readonly status: 502 | 504;
  constructor(
    message: string,
    readonly code: UpstreamErrorCode,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = UPSTREAM_STATUS[code];
  }
}

/** A tier's schema was written by a newer Strata; it is left untouched and the tier stays down. */
export class SchemaVersionError extends StrataError {
  readonly code = 'STRATA_SCHEMA_NEWER';
  override readonly name = 'SchemaVersionError';
}

/** A tier's backend did not answer: not connected yet, or a request to it failed. */
export class TierUnavailableError extends StrataError {
  readonly code = 'STRATA_TIER_UNAVAILABLE';
  override readonly name = 'TierUnavailableError';
}

/** A write reached a tier opened read-only (the inspecting commands open SQLite so). */
export class TierReadOnlyError extends StrataError {
  readonly code = 'STRATA_TIER_READONLY';
  override readonly name = 'TierReadOnlyError';
}

/** Writes a tier accepted (queued) but could not write; the message says how many and why. */
export class WritesLostError extends StrataError {
  readonly code = 'STRATA_WRITES_LOST';
  override readonly name = 'WritesLostError';
}

/** A command that only reads or erases was pointed at SQLite files that do not exist (exit 1). */
export class NoSuchCacheFileError extends StrataError {
  readonly code = 'STRATA_NO_CACHE_FILE';
  override readonly name = 'NoSuchCacheFileError';
  constructor(readonly missing: ReadonlyArray<{ tier: string; path: string }>) {
    super(
      `${missing.map((m) => `${m.path}: no such cache file (tier ${m.tier})`).join('; ')}; nothing was opened or created`,
    );
  }
}

/** Why a model's identity could not be established; the call is then not cached (fail closed). */
export class UnidentifiableModelError extends StrataError {
  readonly code = 'STRATA_MODEL_UNIDENTIFIED';
  override readonly name = 'UnidentifiableModelError';
}
