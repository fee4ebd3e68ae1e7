/**
 * What withCache's chat-model and LLM wrappers share: the key of a request, the per-call
 * control carried in `configurable.cache`, and lookups and stores that honour the cache modes.
 */
import type { RunnableConfig } from '@langchain/core/runnables';
import { type CacheDirectives, looksUp } from '../core/directives.js';
import { CacheMissError, StrataConfigError, UnidentifiableModelError } from '../errors.js';
import type { StrataCache } from './cache.js';
import { isModelOutage } from './model-failure.js';
import { identityPair } from './model-identity.js';
import { assertMode } from './modes.js';
import { similarAnswers } from './similar-answers.js';
import { refuse } from './view-identity.js';
import { assertStaleIfError, type LookupResult } from './view-options.js';

/**
 * withCache's per-call control (`configurable: { cache }`): the per-call directives. Its
 * `semanticQuery` is the question's text (part of the final message), or a function of the
 * final user message's text that returns it; default: the whole final user message.
 */
export interface CacheControl
  extends Pick<
    CacheDirectives,
    'mode' | 'ttlSeconds' | 'namespace' | 'tags' | 'semanticQuery' | 'staleIfErrorSeconds'
  > {}

export interface WithCacheOptions extends CacheControl {
  /** Chunks a cached answer's text is replayed in (at least 2 when the text allows). */
  replayChunks?: number;
  /** Pause between replayed chunks, ms (0: as fast as the consumer reads). */
  replayDelayMs?: number;
}

/** On every answer: whether it came from the cache, from which tier, how old it is. */
export interface StrataHitInfo {
  hit: boolean;
  tier?: string;
  similarity?: number;
  ageSeconds?: number;
  /** The model call failed and this is an expired answer kept for that (stale-if-error). */
  stale?: boolean;
  /** A similarity answer's id, for `cache.feedback(responseId, 'right' | 'wrong')`. */
  responseId?: string;
}

export interface CachedRequest {
  llmKey: string;
  prompt: string;
  control: CacheControl;
  /** Why this request is not cached at all (its model's identity could not be established). */
  bypass?: string;
}

/**
 * How long a miss's stream may sit unread before its key is released: a consumer that dropped the
 * iterator without closing it never resumes the generator, so nothing else would ever release
 * it. Released early, a concurrent identical request calls the model itself (a paid duplicate,
 * never a wrong answer); the stream still stores its answer if it is read to the end.
 */
export const STREAM_IDLE_MS = 500;

/** Where the per-call control travels among the call options, once lifted out of `configurable`. */
const CONTROL = 'strataCache';

/** Call options that are not part of the request: never in the key, never passed to the model. */
export const NOT_REQUEST = new Set([
  CONTROL,
  'configurable',
  'timeout',
  'callbacks',
  'runName',
  'runId',
  'tags',
  'metadata',
  // Set by generate() per input of a batch, and by streamEvents.
  'promptIndex',
  'version',
]);

/** Call options for the wrapped model: the request's own, plus the abort signal. */
export function modelOptions<T extends { signal?: AbortSignal }>(options: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!NOT_REQUEST.has(k) && v !== undefined) out[k] = v;
  return out as T;
}

/** LangChain keeps `configurable` out of the call options a model sees; this carries `configurable.cache` over. */
export function liftControl<T extends object>(config: RunnableConfig, callOptions: T): T {
  const control = (config.configurable as { cache?: unknown } | undefined)?.cache;
  return control === undefined ? callOptions : { ...callOptions, [CONTROL]: control };
}

export class RequestCache {
  constructor(
    private readonly strata: StrataCache,
    readonly defaults: WithCacheOptions,
  ) {
    assertStaleIfError(defaults.staleIfErrorSeconds, 'withCache.staleIfErrorSeconds');
  }

  /**
   * The key of one request: the wrapped model's serialized parameters for this call (what
   * LangChain keys its own cache by), the model's identity as Strata establishes it from the
   * instance (model-identity.ts: class, invocation parameters, configuration), and the prompt.
   * Secrets are handled by the core key.
   */
  request(model: object, prompt: string, options: object): CachedRequest {
    const control = { ...this.defaults, ...readControl(options) };
    const params: Record<string, unknown> = { ...modelOptions(options as { signal?: AbortSignal }) };
    delete params.signal;
    let serialized = '';
    try {
      // LangChain's own serialization throws on what JSON cannot hold (a cycle, a BigInt) in the
      // configuration or the call options: the model still answers, uncached.
      serialized = (
        model as { _getSerializedCacheKeyParametersForCall(o: object): string }
      )._getSerializedCacheKeyParametersForCall(params);
      return { llmKey: `${serialized},${identityPair(model, params)}`, prompt, control };
    } catch (error) {
      const problem =
        error instanceof UnidentifiableModelError
          ? error.message
          : `LangChain cannot serialize its parameters (${(error as Error)?.message})`;
      // Fail closed: the model answers, nothing is looked up or stored, and it is said once.
      refuse(this.strata.strata, serialized, problem, true, true);
      return { llmKey: serialized, prompt, control, bypass: problem };
    }
  }

  /** A hit with its information; undefined on a miss (or when the mode skips the lookup). */
  async lookup<G>(request: CachedRequest): Promise<{ generations: G[]; info: StrataHitInfo } | undefined> {
    const mode = request.control.mode ?? 'default';
    if (request.bypass !== undefined) {
      if (mode === 'only-if-cached') throw new CacheMissError('unidentified-model');
      return undefined;
    }
    if (mode === 'no-cache' || mode === 'refresh') return undefined;
    const view = this.view(request.control);
    // Only a caller that will store its answer may make others wait for it.
    const claim = mode === 'default';
    const hit = await view.lookupWithInfo(request.prompt, request.llmKey, { claim });
    if (!hit || hit.generations.length === 0) {
      if (mode === 'only-if-cached') throw new CacheMissError(view.key(request.prompt, request.llmKey).hash);
      return undefined;
    }
    const info = infoOf(hit);
    // Another prompt's answer: the application may say whether it was right (similar-answers.ts).
    if (hit.similarity !== undefined)
      info.responseId = similarAnswers(this.strata.strata).issue(view.key(request.prompt, request.llmKey));
    return { generations: hit.generations as G[], info };
  }

  /**
   * The model call for this request failed before any of its answer reached the caller: the
   * request's expired answer kept for stale-if-error (core/stale.ts), marked `stale`, when the
   * failure is an outage (model-failure.ts: a 429, a 5xx, a timeout, a refused or reset
   * connection) and the mode reads the cache; undefined otherwise, and the caller rethrows. The
   * call's own `staleIfErrorSeconds` bounds how stale (0: never). Nothing is stored.
   */
  async stale<G>(
    request: CachedRequest,
    error: unknown,
    signal: AbortSignal | undefined,
  ): Promise<{ generations: G[]; info: StrataHitInfo } | undefined> {
    if (request.bypass !== undefined || !looksUp(request.control.mode)) return undefined;
    if (!isModelOutage(error, signal)) return undefined;
    const maxStaleSeconds = request.control.staleIfErrorSeconds;
    const hit = await this.view(request.control).lookupStale(
      request.prompt,
      request.llmKey,
      maxStaleSeconds === undefined ? {} : { maxStaleSeconds },
    );
    if (!hit || hit.generations.length === 0) return undefined;
    return { generations: hit.generations as G[], info: infoOf(hit) };
  }

  /**
   * The model call for this request ended without an answer to store (an error, an abort, a
   * stream the consumer stopped reading): whoever waits for it stops waiting. Only a lookup in
   * `default` mode can have made anyone wait.
   */
  release(request: CachedRequest): void {
    if (request.bypass !== undefined || (request.control.mode ?? 'default') !== 'default') return;
    this.view(request.control).release(request.prompt, request.llmKey);
  }

  /**
   * A miss's stream from the model, passed through chunk by chunk; returns the assembled answer
   * if the stream ran to its end. An error, an abort or a consumer that stopped reading returns
   * nothing and releases the key (nothing is stored, nobody waits).
   */
  async *passThrough<C extends { concat(chunk: C): C }>(
    request: CachedRequest,
    stream: AsyncIterable<C>,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<C, C | undefined> {
    let assembled: C | undefined;
    let complete = false;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.release(request);
    };
    // LangChain ends an aborted stream without finishing this generator: the abort itself releases.
    signal?.addEventListener('abort', release, { once: true });
    try {
      for await (const chunk of stream) {
        assembled = assembled ? assembled.concat(chunk) : chunk;
        const idle = setTimeout(release, STREAM_IDLE_MS);
        idle.unref();
        try {
          yield chunk;
        } finally {
          clearTimeout(idle);
        }
      }
      complete = assembled !== undefined && !signal?.aborted;
    } finally {
      signal?.removeEventListener('abort', release);
      if (!complete) release();
    }
    return complete ? assembled : undefined;
  }

  async store(request: CachedRequest, generations: Parameters<StrataCache['update']>[2]): Promise<void> {
    if (request.bypass !== undefined) return;
    if (request.control.mode === 'no-store' || request.control.mode === 'only-if-cached') return;
    await this.view(request.control).update(request.prompt, request.llmKey, generations);
  }

  private view(control: CacheControl): StrataCache {
    let view = control.namespace ? this.strata.withNamespace(control.namespace) : this.strata;
    const semanticQuery = questionOf(control.semanticQuery);
    const stale = control.staleIfErrorSeconds;
    if (control.tags || control.ttlSeconds !== undefined || semanticQuery || stale !== undefined) {
      view = view.withOptions({
        ...(control.tags ? { tags: control.tags } : {}),
        ...(control.ttlSeconds !== undefined ? { ttlSeconds: control.ttlSeconds } : {}),
        ...(stale !== undefined ? { staleIfErrorSeconds: stale } : {}),
        ...(semanticQuery ? { semanticQuery } : {}),
      });
    }
    return view;
  }
}

/**
 * A per-call question as a view's extractor over the request's prompt: a string stands for
 * itself; a function is given the final user message's text (for an LLM, the prompt).
 */
function questionOf(
  control: CacheControl['semanticQuery'],
): ((prompt: string) => string | undefined) | undefined {
  if (control === undefined) return undefined;
  if (typeof control === 'string') return () => control;
  if (typeof control !== 'function')
    throw new StrataConfigError([
      {
        path: 'configurable.cache.semanticQuery',
        message: 'must be a string or a function (text) => question',
      },
    ]);
  return (prompt) => control(finalUserText(prompt));
}

/** The text of the final message of withCache's canonical request; the prompt itself otherwise. */
function finalUserText(prompt: string): string {
  if (!prompt.startsWith('[{"type":')) return prompt;
  try {
    const messages = JSON.parse(prompt) as Array<{ content?: unknown }>;
    const content = messages.at(-1)?.content;
    if (typeof content === 'string') return content;
    if (Array.isArray(content))
      return content
        .map((p) => (typeof p === 'string' ? p : (p as { text?: unknown })?.text))
        .filter((t): t is string => typeof t === 'string')
        .join('\n');
  } catch {
    // not ours after all: the prompt as it is
  }
  return prompt;
}

function readControl(options: object): CacheControl {
  const control = (options as { [CONTROL]?: CacheControl })[CONTROL];
  if (control === undefined) return {};
  assertMode(control.mode, 'configurable.cache.mode');
  assertStaleIfError(control.staleIfErrorSeconds, 'configurable.cache.staleIfErrorSeconds');
  return control;
}

/** What every answer from the cache says of itself (`response_metadata.strata`). */
function infoOf(hit: LookupResult): StrataHitInfo {
  return {
    hit: true,
    tier: hit.tier,
    ageSeconds: hit.ageSeconds,
    ...(hit.similarity === undefined ? {} : { similarity: hit.similarity }),
    ...(hit.stale ? { stale: true } : {}),
  };
}

/**
 * A stream whose first steps were already taken: the chunks `held` back, that step's chunk, then
 * the rest; closing it closes the stream.
 */
export async function* resumed<T>(
  first: IteratorResult<T>,
  rest: AsyncGenerator<T>,
  held: readonly T[] = [],
): AsyncGenerator<T> {
  try {
    yield* held;
    if (first.done) return;
    yield first.value;
    for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
  } finally {
    await rest.return(undefined);
  }
}

/** Splits text into about `n` pieces at word boundaries (2 or more when it has 2 words). */
export function splitText(text: string, n: number): string[] {
  const words = text.split(/(?<=\s)/);
  if (words.length < 2) return text === '' ? [] : [text];
  const size = Math.max(1, Math.ceil(words.length / Math.max(2, n)));
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += size) pieces.push(words.slice(i, i + size).join(''));
  return pieces;
}

export function pause(ms: number | undefined): Promise<void> | undefined {
  return ms ? new Promise((r) => setTimeout(r, ms)) : undefined;
}
