/**
 * Stale-if-error: an answer past its TTL that may still answer a call whose model failed.
 *
 * An entry written with a grace (`staleIfErrorSeconds`, config or per call) carries `staleUntil`
 * (entry.ts): the tiers keep it until then (it is the expiry they are handed), while a lookup
 * past its own `expiresAt` misses exactly as before and leaves it in place (accept.ts: `stale`).
 * Only an edge that knows the model call failed, and how, asks for it here: withCache and the
 * gateway, after a 429, a 5xx, a timeout, a refused or reset connection or a stream that broke
 * before its first event. LangChain never tells a BaseCache that a call failed, so plain
 * BaseCache use cannot serve a stale answer. Nothing here writes: a stale answer is never stored
 * back as fresh, and the model's next answer replaces the entry as any update does.
 */
import type { EventEmitter } from 'node:events';
import { copyAnswer, type DecodedAnswers } from './decoded.js';
import type { Sealer } from './encryption/keyring.js';
import { type Answer, answerMatchesKey, isExpired } from './entry.js';
import type { CacheEvents, Hit } from './events.js';
import type { GuardedTier } from './guarded-tier.js';
import type { CacheKey } from './key.js';
import type { CacheCounters } from './stats.js';
import { isPromiseLike } from './tier.js';

/**
 * The error types of OpenAI's and Anthropic's APIs that mean the provider is overloaded or
 * failing, not the request wrong: what an error event a stream sends after its HTTP 200 says,
 * where no status does (withCache's model-failure.ts, the gateway's stages/tee.ts).
 */
export const OUTAGE_ERROR_TYPES: ReadonlySet<string> = new Set([
  'overloaded_error',
  'rate_limit_error',
  'api_error',
  'server_error',
]);

export interface StaleOptions {
  /**
   * How far past its expiry an answer may be, in seconds: a call's own `staleIfErrorSeconds`,
   * which can ask for less than the entry was kept for, never more. Unset: as long as it is kept;
   * 0: no stale answer.
   */
  maxStaleSeconds?: number;
  /** The call's own keys (the gateway's per-tenant sealer); default: the config's. */
  sealer?: Sealer;
}

/** Whether an expired answer is still kept for stale-if-error at `now`. */
export function keptStale(answer: { staleUntil?: number }, now: number): boolean {
  return answer.staleUntil !== undefined && answer.staleUntil > now;
}

export interface StaleSource {
  readonly managed: readonly GuardedTier[];
  readonly decoded: DecodedAnswers;
  readonly usable: (answer: Answer, llmString: string) => boolean;
  readonly now: number;
  readonly totals: CacheCounters;
  readonly events: EventEmitter<CacheEvents>;
  /** What a tier holds, opened with the call's keys (encryption/at-rest.ts); undefined if it does not open. */
  readonly open: (
    m: GuardedTier,
    key: CacheKey,
    payload: string,
    sealer: Sealer | undefined,
  ) => string | undefined;
}

/**
 * The key's stale answer, from the first tier that keeps one (fastest first), marked `stale`;
 * undefined when none does. Only the key's own entry serves: a similar prompt's expired answer
 * would be two guesses at once. A tier that fails is a miss here too (the guarded read).
 */
export async function findStale(
  source: StaleSource,
  key: CacheKey,
  options: StaleOptions = {},
): Promise<Hit | undefined> {
  const { maxStaleSeconds, sealer } = options;
  if (maxStaleSeconds === 0) return undefined;
  for (const m of source.managed) {
    let read = m.read(key, sealer);
    if (isPromiseLike(read)) read = await read;
    if (read === undefined) continue;
    const held = typeof read === 'string' ? read : read.hash === key.hash ? read.payload : undefined;
    const payload = held === undefined ? undefined : source.open(m, key, held, sealer);
    if (payload === undefined) continue;
    const found = storedAnswer(source, key, payload, maxStaleSeconds);
    if (!found) continue;
    const answer = found.entry;
    // Stored by another caller since this one missed: a fresh answer wins.
    if (!found.stale) return { entry: answer, tier: m.name, coalesced: false };
    source.totals.stale++;
    if (source.events.listenerCount('stale') > 0) {
      const ageSeconds = Math.max(0, (source.now - answer.createdAt) / 1000);
      source.events.emit('stale', { key, tier: m.name, ageSeconds });
    }
    return { entry: answer, tier: m.name, coalesced: false, stale: true };
  }
  return undefined;
}

/**
 * The payload's answer if it is this key's and usable, and either live (stored since the miss)
 * or expired and still within the grace the entry was kept for and the call asks for.
 */
function storedAnswer(
  source: StaleSource,
  key: CacheKey,
  payload: string,
  maxStaleSeconds: number | undefined,
): { entry: Answer; stale: boolean } | undefined {
  const template = source.decoded.template(key.hash, payload);
  const answer = template?.answer;
  if (!answer || !answerMatchesKey(answer, key) || !source.usable(answer, key.llmString)) return undefined;
  const { now } = source;
  if (!isExpired(answer, now)) return { entry: copyAnswer(answer), stale: false };
  if (!keptStale(answer, now)) return undefined;
  if (maxStaleSeconds !== undefined && answer.expiresAt! + maxStaleSeconds * 1000 <= now) return undefined;
  return { entry: copyAnswer(answer), stale: true };
}
