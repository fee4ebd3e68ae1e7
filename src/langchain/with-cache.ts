/**
 * withCache(model, cache): a chat model that consults Strata itself, beyond what LangChain's
 * BaseCache hook can do:
 *
 * - the key covers the whole request: every message with its content parts (image, audio and
 *   file data hashed, never replaced by a placeholder), tool calls, the bound tools, tool_choice,
 *   the structured-output format and the model's call parameters (secrets stripped by the core
 *   key), so two requests that differ only in an image or a tool never share an answer;
 * - `.stream()` uses the cache: a miss streams from the model and stores the assembled message
 *   only if the stream completed; a hit is replayed as several chunks (text, tool calls, usage;
 *   content blocks whole, in one chunk: see `replay`);
 * - per call, `configurable: { cache: { mode, ttlSeconds, namespace, tags } }` with modes
 *   `default`, `no-cache` (skip the lookup, store), `no-store` (look up, never store),
 *   `only-if-cached` (a miss throws CacheMissError; the model is not called) and `refresh`
 *   (same as no-cache: recompute and replace);
 * - every answer says whether it was a hit: `response_metadata.strata = { hit, tier,
 *   similarity?, ageSeconds, stale? }`;
 * - stale-if-error (`staleIfErrorSeconds`, core/stale.ts): when the model call fails with an
 *   outage (a 429, a 5xx, a timeout, a refused or reset connection; model-failure.ts) before any
 *   of its answer was passed on, an expired answer kept for that grace answers instead, marked
 *   `stale: true`; never while the model answers, and never stored back;
 * - batch() keeps input order (each input is its own call).
 *
 * The wrapper is a BaseChatModel delegating to the wrapped one (its `_generate` and
 * `_streamResponseChunks`), so invoke, batch, stream, streamEvents, callbacks, bindTools and
 * withStructuredOutput work as on any chat model. LangChain's own `cache` option is off on the
 * wrapper: Strata is the cache.
 */
import { createHash } from 'node:crypto';
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import {
  BaseChatModel,
  type BaseChatModelCallOptions,
  type BindToolsInput,
} from '@langchain/core/language_models/chat_models';
import { BaseLLM } from '@langchain/core/language_models/llms';
import { AIMessage, AIMessageChunk, type BaseMessage } from '@langchain/core/messages';
import { type ChatGeneration, ChatGenerationChunk, type ChatResult } from '@langchain/core/outputs';
import type { RunnableConfig } from '@langchain/core/runnables';
import { StrataConfigError } from '../errors.js';
import type { StrataCache } from './cache.js';
import { CachedLLM } from './cached-llm.js';
import { noteModel } from './model-identity.js';
import {
  type CachedRequest,
  liftControl,
  modelOptions,
  NOT_REQUEST,
  pause,
  RequestCache,
  resumed,
  type StrataHitInfo,
  splitText,
  type WithCacheOptions,
} from './request-cache.js';

export { CacheMissError } from '../errors.js';
export type { CacheMode } from './modes.js';
export type { CacheControl, StrataHitInfo, WithCacheOptions } from './request-cache.js';

export function withCache(
  model: BaseChatModel,
  cache: StrataCache,
  options?: WithCacheOptions,
): CachedChatModel;
export function withCache(model: BaseLLM, cache: StrataCache, options?: WithCacheOptions): CachedLLM;
export function withCache(
  model: BaseChatModel | BaseLLM,
  cache: StrataCache,
  options: WithCacheOptions = {},
): CachedChatModel | CachedLLM {
  return model instanceof BaseLLM
    ? new CachedLLM(model, cache, options)
    : new CachedChatModel(model, cache, options);
}

export class CachedChatModel extends BaseChatModel<BaseChatModelCallOptions, AIMessageChunk> {
  private readonly requests: RequestCache;

  constructor(
    readonly inner: BaseChatModel,
    strata: StrataCache,
    defaults: WithCacheOptions = {},
  ) {
    super({ cache: false });
    noteModel(inner);
    this.requests = new RequestCache(strata, defaults);
  }

  static override lc_name(): string {
    return 'CachedChatModel';
  }

  _llmType(): string {
    // Also called by the base constructor, before `inner` is set.
    return this.inner ? `strata:${this.inner._llmType()}` : 'strata';
  }

  /**
   * Tools bind to the wrapper, so they are part of the key, in the wrapped model's own format:
   * the wrapped model binds them, and the call options its binding carries move to the wrapper.
   */
  override bindTools(tools: BindToolsInput[], kwargs?: Partial<BaseChatModelCallOptions>) {
    if (!this.inner.bindTools)
      throw new StrataConfigError([
        { path: 'bindTools', message: `${this.inner.getName()} does not support tools` },
      ]);
    const bound = this.inner.bindTools(tools, kwargs) as unknown as { kwargs?: object; config?: object };
    const carried: Record<string, unknown> = { ...bound.config, ...bound.kwargs };
    for (const k of NOT_REQUEST) delete carried[k];
    return this.withConfig(Object.keys(carried).length > 0 ? carried : { tools, ...kwargs });
  }

  /** The per-call cache control lives in `configurable`, which LangChain keeps from call options: carry it over. */
  protected override _separateRunnableConfigFromCallOptionsCompat(
    options?: Partial<BaseChatModelCallOptions>,
  ): [RunnableConfig, this['ParsedCallOptions']] {
    const [config, callOptions] = super._separateRunnableConfigFromCallOptionsCompat(options);
    return [config, liftControl(config, callOptions)];
  }

  override async _generate(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const request = this.request(messages, options);
    const cached = await this.cached(request);
    if (cached) return { generations: [asChunkGeneration(cached)] };
    let result: ChatResult;
    try {
      result = await this.inner._generate(messages, modelOptions(options), runManager);
    } catch (error) {
      this.requests.release(request);
      const stale = await this.staleAnswer(request, error, options.signal);
      if (stale) return { generations: [asChunkGeneration(stale)] };
      throw error;
    }
    const generation = result.generations[0];
    if (!generation) this.requests.release(request);
    else {
      await this.requests.store(request, [generation]);
      generation.message.response_metadata = {
        ...generation.message.response_metadata,
        strata: { hit: false },
      };
    }
    return { ...result, generations: result.generations.map(asChunkGeneration) };
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const request = this.request(messages, options);
    const cached = await this.cached(request);
    if (cached) {
      yield* this.replay(cached, options, runManager);
      return;
    }
    // The first chunk with content is awaited here, the chunks before it held back (carriesAnswer):
    // a stream that fails before it has passed nothing on, so a stale answer may still stand in
    // for it; once content is out, a failure surfaces.
    const stream = this.modelStream(messages, options, runManager);
    const held: ChatGenerationChunk[] = [];
    let first: IteratorResult<ChatGenerationChunk>;
    try {
      for (
        first = await stream.next();
        !first.done && !carriesAnswer(first.value);
        first = await stream.next()
      )
        held.push(first.value);
    } catch (error) {
      this.requests.release(request);
      const stale = await this.staleAnswer(request, error, options.signal);
      if (!stale) throw error;
      yield* this.replay(stale, options, runManager);
      return;
    }
    const assembled = yield* this.requests.passThrough(request, resumed(first, stream, held), options.signal);
    if (!assembled) return;
    const message = assembled.message as AIMessageChunk;
    const final = new AIMessage({
      content: message.content,
      tool_calls: message.tool_calls ?? [],
      ...(message.usage_metadata ? { usage_metadata: message.usage_metadata } : {}),
      response_metadata: message.response_metadata,
      additional_kwargs: message.additional_kwargs,
      ...(message.id ? { id: message.id } : {}),
    });
    const generation: ChatGeneration = {
      text: assembled.text,
      message: final,
      ...(assembled.generationInfo ? { generationInfo: assembled.generationInfo } : {}),
    };
    await this.requests.store(request, [generation]);
    yield new ChatGenerationChunk({
      text: '',
      message: new AIMessageChunk({ content: '', response_metadata: { strata: { hit: false } } }),
    });
  }

  // -------------------------------------------------------------------------------------------

  /** The request as the key sees it: the wrapped model's parameters, the full conversation. */
  private request(messages: BaseMessage[], options: this['ParsedCallOptions']): CachedRequest {
    return this.requests.request(this.inner, canonicalRequest(messages), options);
  }

  /** A cached answer, marked as a hit; undefined on a miss. */
  private async cached(request: CachedRequest): Promise<ChatGeneration | undefined> {
    return marked(await this.requests.lookup<ChatGeneration>(request));
  }

  /** After the model call failed: the stale answer standing in for it, marked; undefined: rethrow. */
  private async staleAnswer(
    request: CachedRequest,
    error: unknown,
    signal: AbortSignal | undefined,
  ): Promise<ChatGeneration | undefined> {
    return marked(await this.requests.stale<ChatGeneration>(request, error, signal));
  }

  /** The wrapped model's stream, or its whole answer as one chunk when it cannot stream. */
  private async *modelStream(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    if (this.inner._streamResponseChunks !== BaseChatModel.prototype._streamResponseChunks) {
      yield* this.inner._streamResponseChunks(messages, modelOptions(options), runManager);
      return;
    }
    const result = await this.inner._generate(messages, modelOptions(options), runManager);
    const first = result.generations[0];
    if (!first) return;
    const message = asChunkGeneration(first).message as AIMessageChunk;
    yield new ChatGenerationChunk({ text: first.text, message });
  }

  /**
   * A cached answer as a stream: string content in several chunks, then tool calls and usage.
   *
   * Content that is an array of blocks (Anthropic's text and tool_use blocks, reasoning, images)
   * is replayed whole, in one chunk, untouched. LangChain aggregates a stream with `concat`, which
   * merges content arrays block by block on each block's `index` (core messages/base.ts
   * `_mergeLists`): a string piece before an array becomes an index-less text block of its own,
   * so text pieces followed by the blocks would duplicate the text (and the generation's text,
   * which for Anthropic holds the tool input JSON, would land in that extra block). Splitting the
   * blocks instead would need every block to carry a unique index, which an answer stored from
   * `invoke` lacks, and adding one would change the content. One chunk concatenates to exactly
   * the stored content.
   */
  private async *replay(
    generation: ChatGeneration,
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const message = generation.message as AIMessage;
    const blocks = typeof message.content === 'string' ? undefined : message.content;
    const pieces = blocks
      ? []
      : splitText(message.content as string, this.requests.defaults.replayChunks ?? 8);
    for (const [i, piece] of pieces.entries()) {
      options.signal?.throwIfAborted();
      const chunk = new ChatGenerationChunk({
        text: piece,
        message: new AIMessageChunk({
          content: piece,
          ...(i === 0 ? { id: message.id, response_metadata: message.response_metadata } : {}),
        }),
      });
      await runManager?.handleLLMNewToken(piece, undefined, undefined, undefined, undefined, { chunk });
      yield chunk;
      await pause(this.requests.defaults.replayDelayMs);
    }
    options.signal?.throwIfAborted();
    const text = blocks ? generation.text : '';
    const last = new ChatGenerationChunk({
      text,
      message: new AIMessageChunk({
        content: blocks ?? '',
        // An answer with no text pieces (blocks, tool calls only) still says it is a hit.
        ...(pieces.length === 0 ? { id: message.id, response_metadata: message.response_metadata } : {}),
        tool_call_chunks: toolCallChunks(message),
        ...(message.usage_metadata ? { usage_metadata: message.usage_metadata } : {}),
        additional_kwargs: message.additional_kwargs,
      }),
    });
    if (text !== '')
      await runManager?.handleLLMNewToken(text, undefined, undefined, undefined, undefined, { chunk: last });
    yield last;
  }
}

/** A cached answer's generation with what it says of itself (`response_metadata.strata`). */
function marked(
  hit: { generations: ChatGeneration[]; info: StrataHitInfo } | undefined,
): ChatGeneration | undefined {
  const generation = hit?.generations[0];
  if (!hit || !generation?.message) return undefined;
  generation.message.response_metadata = { ...generation.message.response_metadata, strata: hit.info };
  return generation;
}

/**
 * What a stream's leading chunks may hold without being part of the answer: the ids, role and
 * model name Anthropic's message_start carries, the raw response OpenAI's `includeRawResponse` adds.
 */
const METADATA_KWARGS = new Set([
  'id',
  'type',
  'role',
  'model',
  'stop_reason',
  'stop_sequence',
  '__raw_response',
]);

/**
 * Whether a streamed chunk carries any of the answer. Providers open a stream with chunks that
 * carry none (OpenAI's role-only `{ role: 'assistant', content: '' }`, Anthropic's message_start
 * with its usage, an empty text block's start): no text, content that is '' or only empty text
 * parts, no tool call (chunks, complete or invalid), and in additional_kwargs only the metadata
 * above. Anything else counts as answer (reasoning, a refusal, a legacy function_call, an image, a
 * field not known here): a failure after it surfaces rather than be answered stale.
 * response_metadata and usage_metadata are metadata, never answer.
 */
function carriesAnswer(chunk: ChatGenerationChunk): boolean {
  const m = chunk.message as AIMessageChunk;
  if (chunk.text !== '') return true;
  const emptyParts =
    typeof m.content === 'string'
      ? m.content === ''
      : m.content.every((part) => part.type === 'text' && (part as { text?: unknown }).text === '');
  if (!emptyParts) return true;
  if (
    (m.tool_call_chunks?.length ?? 0) + (m.tool_calls?.length ?? 0) + (m.invalid_tool_calls?.length ?? 0) >
    0
  )
    return true;
  return Object.keys(m.additional_kwargs ?? {}).some((k) => !METADATA_KWARGS.has(k));
}

/** A message's complete tool calls as the chunks a stream carries them in. */
function toolCallChunks(message: AIMessage) {
  return (message.tool_calls ?? []).map((call, index) => ({
    name: call.name,
    args: JSON.stringify(call.args),
    id: call.id,
    index,
    type: 'tool_call_chunk' as const,
  }));
}

/**
 * Chat models of LangChain 1.x answer with AIMessageChunk (withStructuredOutput's parser insists
 * on it); a wrapped model or a cached answer may hold a plain AIMessage.
 */
function asChunkGeneration(generation: ChatGeneration): ChatGeneration {
  const m = generation.message;
  if (AIMessageChunk.isInstance(m) || !AIMessage.isInstance(m)) return generation;
  const message = new AIMessageChunk({
    content: m.content,
    tool_call_chunks: toolCallChunks(m),
    ...(m.usage_metadata ? { usage_metadata: m.usage_metadata } : {}),
    response_metadata: m.response_metadata,
    additional_kwargs: m.additional_kwargs,
    ...(m.id ? { id: m.id } : {}),
  });
  return { ...generation, message };
}

/**
 * The conversation as canonical JSON: type, content (string or parts), name, tool calls and
 * tool call id of every message. Binary data in content parts (base64 `data`, data: URLs, raw
 * bytes) is replaced by its SHA-256, so the key covers the bytes without storing them.
 */
export function canonicalRequest(messages: BaseMessage[]): string {
  return JSON.stringify(
    messages.map((m) => ({
      type: m.getType(),
      content: typeof m.content === 'string' ? m.content : m.content.map(hashBinary),
      ...(m.name ? { name: m.name } : {}),
      ...('tool_calls' in m && Array.isArray(m.tool_calls) && m.tool_calls.length > 0
        ? { tool_calls: m.tool_calls.map((c) => ({ name: c.name, args: c.args, id: c.id })) }
        : {}),
      ...('tool_call_id' in m && m.tool_call_id ? { tool_call_id: m.tool_call_id } : {}),
      ...('status' in m && typeof m.status === 'string' ? { status: m.status } : {}),
      // A ChatMessage's role, and what providers send from additional_kwargs (a legacy
      // function_call, an audio reference), tell two requests apart as much as the content does.
      ...('role' in m && typeof m.role === 'string' ? { role: m.role } : {}),
      ...(Object.keys(m.additional_kwargs ?? {}).length > 0
        ? { additional_kwargs: hashBinary(m.additional_kwargs) }
        : {}),
    })),
  );
}

function hashBinary(part: unknown): unknown {
  if (typeof part === 'string') {
    const dataUrl = /^data:([^;,]*)(;base64)?,/.exec(part);
    return dataUrl ? `sha256:${sha256(part)}` : part;
  }
  if (part instanceof Uint8Array) return { sha256: sha256(part) };
  if (Array.isArray(part)) return part.map(hashBinary);
  if (part === null || typeof part !== 'object') return part;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(part)) {
    const bulky = (k === 'data' || k === 'base64') && (typeof v === 'string' || v instanceof Uint8Array);
    out[k] = bulky ? { sha256: sha256(v as string | Uint8Array) } : hashBinary(v);
  }
  return out;
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
