/**
 * What the cache saved: per model, the hits served and the tokens (and money) those answers cost
 * when they were generated, from the `usage_metadata` the generations carry. A hit whose answer
 * reports no usage counts as a hit with zero tokens: nothing is guessed.
 */
import type { TokenUsage } from '../core/entry.js';
import { modelOf } from '../core/model-of.js';

/** USD per million tokens, per model name as it appears in the llm string. */
export type PriceTable = Record<string, { input: number; output: number }>;

export interface ModelSavings {
  model: string;
  hits: number;
  inputTokens: number;
  outputTokens: number;
  /** USD; 0 when the model has no price in the table. */
  cost: number;
}

/** Llm strings whose model is remembered; beyond this many, it is parsed per hit (no unbounded growth). */
const MODEL_MEMO_LIMIT = 1_024;

export class Savings {
  private readonly byModel = new Map<string, ModelSavings>();
  /**
   * The model of each llm string seen: `record` runs on every hit (for the fleet reporter and
   * the monitor), and an application has few llm strings, so the parse is done once per string.
   */
  private readonly modelOfLlm = new Map<string, string>();

  constructor(private readonly prices: PriceTable = {}) {}

  /** Counts one hit; returns its model and what it saved (tokens, USD). */
  record(llmString: string, usage: TokenUsage | undefined): { model: string; tokens: number; cost: number } {
    const model = this.model(llmString);
    const inputTokens = usage?.inputTokens ?? 0;
    const outputTokens = usage?.outputTokens ?? 0;
    const cost = this.count(model, 1, inputTokens, outputTokens);
    return { model, tokens: inputTokens + outputTokens, cost };
  }

  /** The model of an llm string (modelOf), remembered per string. */
  model(llmString: string): string {
    let model = this.modelOfLlm.get(llmString);
    if (model === undefined) {
      model = modelOf(llmString);
      if (this.modelOfLlm.size < MODEL_MEMO_LIMIT) this.modelOfLlm.set(llmString, model);
    }
    return model;
  }

  /** Adds totals counted elsewhere (another process's, from the fleet counters), priced here. */
  add(totals: { model: string; hits: number; inputTokens: number; outputTokens: number }): void {
    this.count(totals.model, totals.hits, totals.inputTokens, totals.outputTokens);
  }

  /** Adds to a model's totals; returns the cost added (USD). */
  private count(model: string, hits: number, inputTokens: number, outputTokens: number): number {
    let s = this.byModel.get(model);
    if (!s) {
      s = { model, hits: 0, inputTokens: 0, outputTokens: 0, cost: 0 };
      this.byModel.set(model, s);
    }
    s.hits += hits;
    s.inputTokens += inputTokens;
    s.outputTokens += outputTokens;
    const price = this.prices[model];
    const cost = price ? (inputTokens * price.input + outputTokens * price.output) / 1e6 : 0;
    s.cost += cost;
    return cost;
  }

  report(): { models: ModelSavings[]; tokens: number; cost: number } {
    const models = [...this.byModel.values()].map((s) => ({ ...s }));
    return {
      models,
      tokens: models.reduce((n, s) => n + s.inputTokens + s.outputTokens, 0),
      cost: models.reduce((n, s) => n + s.cost, 0),
    };
  }
}
