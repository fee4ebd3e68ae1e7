/**
 * withCache for text-completion LLMs (BaseLLM): the same keys, modes and stream handling as for
 * chat models, on plain strings. Hit information travels in each generation's
 * `generationInfo.strata` (an LLM's `invoke` returns a bare string; `generate` shows it), and a
 * batch's hits and misses come back at their input positions.
 */
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import { BaseLLM, type BaseLLMCallOptions } from '@langchain/core/language_models/llms';
import { type Generation, GenerationChunk, type LLMResult } from '@langchain/core/outputs';
import type { RunnableConfig } from '@langchain/core/runnables';
import type { StrataCache } from './cache.js';
import { noteModel } from './model-identity.js';
import {
  type CachedRequest,
  liftControl,
  modelOptions,
  pause,
  RequestCache,
  resumed,
  type StrataHitInfo,
  splitText,
  type WithCacheOptions,
} from './request-cache.js';

export class CachedLLM extends BaseLLM<BaseLLMCallOptions> {
  private readonly requests: RequestCache;

  constructor(
    readonly inner: BaseLLM,
    strata: StrataCache,
    defaults: WithCacheOptions = {},
  ) {
    super({ cache: false });
    noteModel(inner);
    this.requests = new RequestCache(strata, defaults);
  }

  static override lc_name(): string {
    return 'CachedLLM';
  }

  _llmType(): string {
    // Also called by the base constructor, before `inner` is set.
    return this.inner ? `strata:${this.inner._llmType()}` : 'strata';
  }

  protected override _separateRunnableConfigFromCallOptionsCompat(
    options?: Partial<BaseLLMCallOptions>,
  ): [RunnableConfig, this['ParsedCallOptions']] {
    const [config, callOptions] = super._separateRunnableConfigFromCallOptionsCompat(options);
    return [config, liftControl(config, callOptions)];
  }

  async _generate(
    prompts: string[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<LLMResult> {
    const requests = prompts.map((prompt) => this.requests.request(this.inner, prompt, options));
    const generations: Generation[][] = [];
    const missing: number[] = [];
    for (const [i, request] of requests.entries()) {
      const hit = await this.requests.lookup<Generation>(request);
      if (hit) generations[i] = marked(hit.generations, hit.info);
      else missing.push(i);
    }
    if (missing.length === 0) return { generations };
    let result: LLMResult;
    try {
      result = await this.inner._generate(
        missing.map((i) => prompts[i]!),
        modelOptions(options),
        runManager,
      );
    } catch (error) {
      for (const i of missing) this.requests.release(requests[i]!);
      // Stale-if-error (request-cache.ts `stale`): only when every prompt the model failed for has one.
      for (const i of missing) {
        const stale = await this.requests.stale<Generation>(requests[i]!, error, options.signal);
        if (!stale) throw error;
        generations[i] = marked(stale.generations, stale.info);
      }
      return { generations };
    }
    for (const [j, i] of missing.entries()) {
      const fresh = result.generations[j] ?? [];
      if (fresh.length === 0) this.requests.release(requests[i]!);
      else await this.requests.store(requests[i]!, fresh);
      generations[i] = marked(fresh, { hit: false });
    }
    return { generations, ...(result.llmOutput ? { llmOutput: result.llmOutput } : {}) };
  }

  override async *_streamResponseChunks(
    input: string,
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<GenerationChunk> {
    const request = this.requests.request(this.inner, input, options);
    const hit = await this.requests.lookup<Generation>(request);
    if (hit) {
      yield* this.replay(hit, options, runManager);
      return;
    }
    // As for chat models (with-cache.ts): a stream that fails before its first chunk may be
    // answered by a stale entry; once a chunk is out, a failure surfaces.
    const stream = this.modelStream(input, options, runManager);
    let first: IteratorResult<GenerationChunk>;
    try {
      first = await stream.next();
    } catch (error) {
      this.requests.release(request);
      const stale = await this.requests.stale<Generation>(request, error, options.signal);
      if (!stale) throw error;
      yield* this.replay(stale, options, runManager);
      return;
    }
    const assembled = yield* this.requests.passThrough(request, resumed(first, stream), options.signal);
    if (!assembled) return;
    await this.store(request, assembled);
  }

  /** A cached answer's text as a stream, each chunk saying where it came from. */
  private async *replay(
    hit: { generations: Generation[]; info: StrataHitInfo },
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<GenerationChunk> {
    for (const piece of splitText(hit.generations[0]?.text ?? '', this.requests.defaults.replayChunks ?? 8)) {
      options.signal?.throwIfAborted();
      await runManager?.handleLLMNewToken(piece);
      yield new GenerationChunk({ text: piece, generationInfo: { strata: hit.info } });
      await pause(this.requests.defaults.replayDelayMs);
    }
  }

  /** The wrapped model's stream, or its whole answer as one chunk when it cannot stream. */
  private async *modelStream(
    input: string,
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<GenerationChunk> {
    if (this.inner._streamResponseChunks !== BaseLLM.prototype._streamResponseChunks) {
      yield* this.inner._streamResponseChunks(input, modelOptions(options), runManager);
      return;
    }
    const result = await this.inner._generate([input], modelOptions(options), runManager);
    const first = result.generations[0]?.[0];
    if (first)
      yield new GenerationChunk({
        text: first.text,
        ...(first.generationInfo ? { generationInfo: first.generationInfo } : {}),
      });
  }

  private store(request: CachedRequest, chunk: GenerationChunk): Promise<void> {
    return this.requests.store(request, [
      { text: chunk.text, ...(chunk.generationInfo ? { generationInfo: chunk.generationInfo } : {}) },
    ]);
  }
}

function marked(generations: Generation[], info: StrataHitInfo): Generation[] {
  return generations.map((g) => ({ ...g, generationInfo: { ...g.generationInfo, strata: info } }));
}
