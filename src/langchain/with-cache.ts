/**
 * withCache(model, cache): a chat model that consults Strata itself, beyond what LangChain's
 * BaseCache hook can do:
 *
 * - the key covers the whole request: every message with its content parts (image, audio and
 *   file data hashed, never replaced by a placeholder), tool calls, the bound tools, tool_choice,
 *   the structured-output format and the model's call parameters (secrets stripped by the core
 *   key), so two requests that differ only in an image or a tool never share an answer;
 * - `.stream()` uses the cache: a miss streams from the model and stores the assembled message
 *   only if the stream completed; a hit is replayed as several chunks (text, tool calls, usage);
 * - per call, `configurable: { cache: { mode, ttlSeconds, namespace, tags } }` with modes
 *   `default`, `no-cache` (skip the lookup, store), `no-store` (look up, never store),
 *   `only-if-cached` (a miss throws CacheMissError; the model is not called) and `refresh`
 *   (same as no-cache: recompute and replace);
 * - every answer says whether it was a hit: `response_metadata.strata = { hit, tier,
 *   similarity?, ageSeconds }`;
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
import { AIMessage, AIMessageChunk, type BaseMessage } from '@langchain/core/messages';
import { type ChatGeneration, ChatGenerationChunk, type ChatResult } from '@langchain/core/outputs';
import type { RunnableConfig } from '@langchain/core/runnables';
import type { StrataCache } from './cache.js';
import { assertMode, CacheMissError, type CacheMode } from './modes.js';

export { CacheMissError, type CacheMode } from './modes.js';

export interface CacheControl {
  mode?: CacheMode;
  ttlSeconds?: number | null;
  namespace?: string;
  tags?: string[];
}

export interface WithCacheOptions extends CacheControl {
  /** Chunks a cached answer's text is replayed in (at least 2 when the text allows). */
  replayChunks?: number;
  /** Pause between replayed chunks, ms (0: as fast as the consumer reads). */
  replayDelayMs?: number;
}

export interface StrataHitInfo {
  hit: boolean;
  tier?: string;
  similarity?: number;
  ageSeconds?: number;
}

/** Call options the wrapper reads itself and never hands to the key or the model. */
const CONTROL = 'strataCache';
const CONTROL_KEYS = new Set([
  CONTROL,
  // Set by generate() per input of a batch, and by streamEvents: not part of the request.
  'promptIndex',
  'version',
  'configurable',
  'signal',
  'timeout',
  'callbacks',
  'runName',
  'runId',
  'tags',
  'metadata',
]);

export function withCache<Model extends BaseChatModel>(
  model: Model,
  cache: StrataCache,
  options: WithCacheOptions = {},
): CachedChatModel {
  return new CachedChatModel(model, cache, options);
}

export class CachedChatModel extends BaseChatModel<BaseChatModelCallOptions, AIMessageChunk> {
  constructor(
    readonly inner: BaseChatModel,
    private readonly strata: StrataCache,
    private readonly defaults: WithCacheOptions = {},
  ) {
    super({ cache: false });
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
    if (!this.inner.bindTools) throw new Error(`${this.inner.getName()} does not support tools`);
    const bound = this.inner.bindTools(tools, kwargs) as unknown as { kwargs?: object; config?: object };
    const carried: Record<string, unknown> = { ...bound.config, ...bound.kwargs };
    for (const k of CONTROL_KEYS) delete carried[k];
    return this.withConfig(Object.keys(carried).length > 0 ? carried : { tools, ...kwargs });
  }

  /** The per-call cache control lives in `configurable`, which LangChain keeps from call options: carry it over. */
  protected override _separateRunnableConfigFromCallOptionsCompat(
    options?: Partial<BaseChatModelCallOptions>,
  ): [RunnableConfig, this['ParsedCallOptions']] {
    const [config, callOptions] = super._separateRunnableConfigFromCallOptionsCompat(options);
    const control = (config.configurable as { cache?: unknown } | undefined)?.cache;
    return [config, control === undefined ? callOptions : { ...callOptions, [CONTROL]: control }];
  }

  override async _generate(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const request = this.request(messages, options);
    const cached = await this.cached(request);
    if (cached) return { generations: [asChunkGeneration(cached)] };
    const result = await this.inner._generate(messages, this.modelOptions(options), runManager);
    const generation = result.generations[0];
    if (generation) {
      await this.store(request, [generation]);
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
    let assembled: ChatGenerationChunk | undefined;
    for await (const chunk of this.inner._streamResponseChunks(
      messages,
      this.modelOptions(options),
      runManager,
    )) {
      assembled = assembled ? assembled.concat(chunk) : chunk;
      yield chunk;
    }
    // Only a stream that ran to its end is an answer; an error or an abort above stores nothing.
    if (!assembled || options.signal?.aborted) return;
    const message = assembled.message as AIMessageChunk;
    const final = new AIMessage({
      content: message.content,
      tool_calls: message.tool_calls ?? [],
      ...(message.usage_metadata ? { usage_metadata: message.usage_metadata } : {}),
      response_metadata: message.response_metadata,
      additional_kwargs: message.additional_kwargs,
      ...(message.id ? { id: message.id } : {}),
    });
    await this.store(request, [
      { text: assembled.text, message: final, generationInfo: assembled.generationInfo },
    ]);
    yield new ChatGenerationChunk({
      text: '',
      message: new AIMessageChunk({ content: '', response_metadata: { strata: { hit: false } } }),
    });
  }

  // -------------------------------------------------------------------------------------------

  /** The request as the key sees it: model parameters as the llm key, the full conversation as the prompt. */
  private request(messages: BaseMessage[], options: this['ParsedCallOptions']): Request {
    const control = { ...this.defaults, ...readControl(options) };
    // The request's own parameters only: no signal, no per-call control, no streamEvents version.
    const params: Record<string, unknown> = { ...this.modelOptions(options) };
    delete params.signal;
    const llmKey = (
      this.inner as unknown as { _getSerializedCacheKeyParametersForCall(o: object): string }
    )._getSerializedCacheKeyParametersForCall(params);
    return { llmKey, prompt: canonicalRequest(messages), control };
  }

  private view(control: CacheControl): StrataCache {
    let view = control.namespace ? this.strata.withNamespace(control.namespace) : this.strata;
    if (control.tags || control.ttlSeconds !== undefined) {
      view = view.withOptions({
        ...(control.tags ? { tags: control.tags } : {}),
        ...(control.ttlSeconds !== undefined ? { ttlSeconds: control.ttlSeconds } : {}),
      });
    }
    return view;
  }

  private async cached(request: Request): Promise<ChatGeneration | undefined> {
    const mode = request.control.mode ?? 'default';
    if (mode === 'no-cache' || mode === 'refresh') return undefined;
    const view = this.view(request.control);
    const hit = await view.lookupWithInfo(request.prompt, request.llmKey);
    const generation = hit?.generations[0] as ChatGeneration | undefined;
    if (!hit || !generation?.message) {
      if (mode === 'only-if-cached') throw new CacheMissError(view.key(request.prompt, request.llmKey).hash);
      return undefined;
    }
    const info: StrataHitInfo = {
      hit: true,
      tier: hit.tier,
      ageSeconds: hit.ageSeconds,
      ...(hit.similarity === undefined ? {} : { similarity: hit.similarity }),
    };
    generation.message.response_metadata = { ...generation.message.response_metadata, strata: info };
    return generation;
  }

  private async store(request: Request, generations: ChatGeneration[]): Promise<void> {
    if (request.control.mode === 'no-store' || request.control.mode === 'only-if-cached') return;
    await this.view(request.control).update(request.prompt, request.llmKey, generations);
  }

  /** A cached answer as a stream: text in several chunks, then tool calls and usage. */
  private async *replay(
    generation: ChatGeneration,
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const message = generation.message as AIMessage;
    const text = typeof message.content === 'string' ? message.content : generation.text;
    const pieces = splitText(text, this.defaults.replayChunks ?? 8);
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
      if (this.defaults.replayDelayMs) await new Promise((r) => setTimeout(r, this.defaults.replayDelayMs));
    }
    yield new ChatGenerationChunk({
      text: '',
      message: new AIMessageChunk({
        content: typeof message.content === 'string' ? '' : message.content,
        tool_call_chunks: (message.tool_calls ?? []).map((call, index) => ({
          name: call.name,
          args: JSON.stringify(call.args),
          id: call.id,
          index,
          type: 'tool_call_chunk' as const,
        })),
        ...(message.usage_metadata ? { usage_metadata: message.usage_metadata } : {}),
        additional_kwargs: message.additional_kwargs,
      }),
    });
  }

  /** Call options for the wrapped model: everything but the wrapper's own controls. */
  private modelOptions(options: this['ParsedCallOptions']): this['ParsedCallOptions'] {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) if (!CONTROL_KEYS.has(k) && v !== undefined) out[k] = v;
    if (options.signal) out.signal = options.signal;
    return out as this['ParsedCallOptions'];
  }
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
    tool_call_chunks: (m.tool_calls ?? []).map((call, index) => ({
      name: call.name,
      args: JSON.stringify(call.args),
      id: call.id,
      index,
      type: 'tool_call_chunk' as const,
    })),
    ...(m.usage_metadata ? { usage_metadata: m.usage_metadata } : {}),
    response_metadata: m.response_metadata,
    additional_kwargs: m.additional_kwargs,
    ...(m.id ? { id: m.id } : {}),
  });
  return { ...generation, message };
}

interface Request {
  llmKey: string;
  prompt: string;
  control: CacheControl;
}

function readControl(options: BaseChatModelCallOptions): CacheControl {
  const control = (options as { [CONTROL]?: CacheControl })[CONTROL];
  if (control === undefined) return {};
  assertMode(control.mode, 'configurable.cache.mode');
  return control;
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

/** Splits text into about `n` pieces at word boundaries (2 or more when it has 2 words). */
function splitText(text: string, n: number): string[] {
  const words = text.split(/(?<=\s)/);
  if (words.length < 2) return text === '' ? [] : [text];
  const size = Math.max(1, Math.ceil(words.length / Math.max(2, n)));
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += size) pieces.push(words.slice(i, i + size).join(''));
  return pieces;
}
