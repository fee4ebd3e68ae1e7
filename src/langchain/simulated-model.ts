/**
 * A stand-in for a paid chat model: deterministic answers, realistic latency, token usage, and a
 * call counter, so the demo and the tests can count exactly how many LLM calls the cache saved.
 */

import { BaseChatModel, type BaseChatModelParams } from '@langchain/core/language_models/chat_models';
import type { BaseMessage } from '@langchain/core/messages';
import { AIMessage } from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';
import { mulberry32 } from '../demo/random.js';

export interface SimulatedChatModelParams extends BaseChatModelParams {
  /** Model name, part of the cache key. */
  model?: string;
  /** Where requests would go; part of the cache key, as real provider classes include their base URL. */
  baseURL?: string;
  /** Fixed latency per call, or a [min, max] range sampled uniformly. */
  latencyMs?: number | [number, number];
  /** Included in the llmKey the way real provider models include theirs; the cache must strip it. */
  apiKey?: string;
  temperature?: number;
  /** Seed for the latency sampler, so demo runs are repeatable. */
  seed?: number;
  /** Makes the next calls fail, for fault tests. */
  failWith?: string;
}

export class SimulatedChatModel extends BaseChatModel {
  calls = 0;
  model: string;
  baseURL: string;
  apiKey: string | undefined;
  temperature: number;
  failWith: string | undefined;
  private readonly latency: [number, number];
  private rng: () => number;

  constructor(params: SimulatedChatModelParams = {}) {
    super(params);
    this.model = params.model ?? 'simulated-gpt';
    this.baseURL = params.baseURL ?? 'in-process://simulated';
    this.apiKey = params.apiKey;
    this.temperature = params.temperature ?? 0;
    this.failWith = params.failWith;
    const l = params.latencyMs ?? 0;
    this.latency = typeof l === 'number' ? [l, l] : l;
    this.rng = mulberry32(params.seed ?? 1);
  }

  _llmType(): string {
    return 'simulated';
  }

  override _identifyingParams(): Record<string, unknown> {
    return {
      model: this.model,
      baseURL: this.baseURL,
      temperature: this.temperature,
      ...(this.apiKey ? { apiKey: this.apiKey } : {}),
    };
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    this.calls++;
    const [min, max] = this.latency;
    const wait = min + (max - min) * this.rng();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.failWith) throw new Error(this.failWith);
    const question = messages
      .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)))
      .join('\n');
    const text = `Answer #${this.calls} from ${this.model}: ${summarize(question)}`;
    const inputTokens = Math.ceil(question.length / 4);
    const outputTokens = Math.ceil(text.length / 4);
    const message = new AIMessage({
      content: text,
      usage_metadata: {
        input_tokens: inputTokens,
        output_tokens: outputTokens,
        total_tokens: inputTokens + outputTokens,
      },
      response_metadata: { model_name: this.model, finish_reason: 'stop' },
    });
    return { generations: [{ text, message, generationInfo: { finish_reason: 'stop' } }] };
  }
}

function summarize(question: string): string {
  const words = question.split(/\s+/).filter(Boolean);
  return `${words.slice(0, 12).join(' ')}${words.length > 12 ? ' ...' : ''} (${words.length} words considered).`;
}
