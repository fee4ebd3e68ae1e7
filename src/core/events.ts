/**
 * What the cache tells the application: the events a StrataCache emits (`cache.on(...)`), the
 * logger it writes warnings to, and what a lookup returns.
 */
import type { BreakerState } from './breaker.js';
import type { Answer, TokenUsage } from './entry.js';
import type { CacheKey } from './key.js';

/** Where warnings go (a tier going down, recovering); createCache defaults to console.warn. */
export interface Logger {
  warn(message: string): void;
}

/** A lookup's answer, and where it came from. */
export interface Hit {
  entry: Answer;
  tier: string;
  coalesced: boolean;
  /** Set when a similarity tier answered with another prompt's entry. */
  similarity?: number;
  matchedPrompt?: string;
  /** An expired answer kept for stale-if-error, served because the model call failed (stale.ts). */
  stale?: boolean;
}

export interface CacheEvents {
  hit: [
    {
      key: CacheKey;
      tier: string;
      latencyMs: number;
      coalesced: boolean;
      similarity?: number;
      matchedPrompt?: string;
      /** Tokens the answer cost when it was generated: what this hit saved. */
      usage?: TokenUsage;
    },
  ];
  miss: [{ key: CacheKey; latencyMs: number }];
  /** An expired answer served because the model call failed (stale-if-error, core/stale.ts). */
  stale: [{ key: CacheKey; tier: string; ageSeconds: number }];
  set: [{ key: CacheKey; tiers: string[]; bytes: number }];
  error: [{ tier: string; op: string; error: Error }];
  backfill: [{ key: CacheKey; from: string; to: string }];
  evict: [{ tier: string; hash: string; reason: string }];
  breaker: [{ tier: string; from: BreakerState; to: BreakerState }];
  /** Something about a request the cache handled safely but the application should know (once per cause). */
  warning: [
    | { code: 'llm-key-unparsed'; message: string; llmString: string }
    | { code: 'model-unidentified'; message: string; llmType: string }
    | { code: 'digest-key-ephemeral'; message: string },
  ];
}
