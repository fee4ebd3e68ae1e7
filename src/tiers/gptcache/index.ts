/**
 * GPTCache tier: a GPTCache server (the Python semantic cache's own HTTP app) behind the Tier
 * interface, so TypeScript apps share a cache that Python apps already fill.
 *
 * The server's API is three calls: `GET /` (health), `POST /put {prompt, answer}` and
 * `POST /get {prompt}` -> `{prompt, answer}` (answer null on a miss). It keys by prompt text
 * alone and knows nothing of models or tenants, so the answer Strata stores is its encoded
 * entry (namespace, sanitized llm string, prompt, expiry and generations) and every read checks
 * it: another namespace's or model's entry is a miss, an exact-mode entry of another key is
 * misfiled (the manager counts it corrupt), and in semantic mode the entry of a similar prompt
 * comes back as a similar match, held to the same namespace and model.
 *
 * What the server cannot do, and what this tier does instead:
 * - no delete: `delete` overwrites the prompt's answer with a tombstone, which reads as a miss
 *   (reliable in exact mode, where a put replaces; in semantic mode the old row may still win);
 * - no listing, clear, tags or expiry: `entries` lists nothing, `clear`, `invalidateTag` and
 *   `purgeExpired` remove nothing and say so (0), and TTL is enforced on read from the entry.
 *   `health()` names these limits. (`POST /flush` only persists the server's data to disk.)
 * - one slot per prompt: in exact mode two models caching the same prompt replace each other
 *   (each then misses the other's answer, never serves it).
 *
 * An answer that is not a Strata entry was written by another GPTCache client: with
 * `foreignAnswers: 'text'` (default) it is served as the asking model's generation (an AI
 * message for a chat model, text for an LLM); with `'ignore'` it is a miss.
 */
import http from 'node:http';
import https from 'node:https';
import type { Clock } from '../../core/clock.js';
import { isSealed } from '../../core/encryption/keyring.js';
import {
  decodeEntry,
  ENTRY_VERSION,
  encodeEntry,
  type StoredEntry,
  textGeneration,
} from '../../core/entry.js';
import type { CacheKey } from '../../core/key.js';
import type { ListedEntry, SimilarMatch, Tier, TierHealth, TierStats } from '../../core/tier.js';
import { TierUnavailableError } from '../../errors.js';
import type { GptcacheTierConfig } from './config.js';

/** The fields of config.ts; `timeoutMs` bounds each request (a server that has not answered by then is abandoned). */
export type GptcacheTierOptions = Pick<
  GptcacheTierConfig,
  'url' | 'mode' | 'foreignAnswers' | 'poolSize' | 'timeoutMs'
> & {
  name?: string;
  clock: Clock;
};

/** What `delete` stores in place of an answer: NUL-prefixed, so no LLM answer or Strata entry is one. */
const TOMBSTONE = '\u0000strata:deleted';
const LIMITS =
  'GPTCache has no delete, list, clear, tag or expiry API: delete writes a tombstone, clear, invalidateTag and purge remove nothing, expiry is enforced on read';

export class GptcacheTier implements Tier {
  readonly name: string;
  readonly type = 'gptcache';
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private closed = false;

  constructor(private readonly options: GptcacheTierOptions) {
    this.name = options.name ?? 'gptcache';
    this.base = new URL(options.url);
    const secure = this.base.protocol === 'https:';
    this.request = secure ? https.request : http.request;
    this.agent = new (secure ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: options.poolSize });
  }

  async get(key: CacheKey): Promise<string | SimilarMatch | undefined> {
    const { answer } = (await this.call('POST', '/get', { prompt: key.prompt })) as { answer?: unknown };
    if (typeof answer !== 'string' || answer === TOMBSTONE) return undefined;
    // A payload sealed under a caller's own keys (encryption/at-rest.ts) is never another
    // client's text answer: handed over as it is, the manager opens it or counts it corrupt.
    if (isSealed(answer)) return answer;
    if (!answer.startsWith('{"v":')) return this.foreign(key, answer);
    const entry = decodeEntry(answer);
    // Unreadable: hand it over as it is, so the manager counts it as corrupt.
    if (!entry || entry.k === key.hash) return answer;
    // The server matched another tenant's or model's entry (same or similar prompt): not ours.
    if (entry.ns !== key.namespace || entry.llm !== key.llmString) return undefined;
    // Exact mode: another key's entry under this prompt is misfiled; the manager refuses it.
    if (this.options.mode === 'exact') return answer;
    return { payload: answer, hash: entry.k, matchedPrompt: entry.prompt ?? '' };
  }

  async set(key: CacheKey, entry: StoredEntry): Promise<boolean> {
    await this.call('POST', '/put', { prompt: key.prompt, answer: entry.payload });
    return true;
  }

  async delete(key: CacheKey): Promise<boolean> {
    const { answer } = (await this.call('POST', '/get', { prompt: key.prompt })) as { answer?: unknown };
    if (typeof answer !== 'string' || answer === TOMBSTONE) return false;
    await this.call('POST', '/put', { prompt: key.prompt, answer: TOMBSTONE });
    return true;
  }

  clear(): number {
    return 0;
  }

  invalidateTag(): number {
    return 0;
  }

  purgeExpired(): number {
    return 0;
  }

  /** The server cannot list its entries. */
  async *entries(): AsyncIterable<ListedEntry> {}

  /** The server reports no counts; `listable: 0` says the zeros are not a measurement. */
  stats(): TierStats {
    return { entries: 0, bytes: 0, listable: 0 };
  }

  async health(): Promise<TierHealth> {
    if (this.closed) return { status: 'down', reason: 'closed' };
    await this.call('GET', '/');
    return { status: 'up', reason: LIMITS };
  }

  close(): void {
    this.closed = true;
    this.agent.destroy();
  }

  // -------------------------------------------------------------------------------------------

  /** An answer another GPTCache client stored: a plain text generation for this key, or nothing. */
  private foreign(key: CacheKey, answer: string): string | undefined {
    if (this.options.foreignAnswers === 'ignore') return undefined;
    return encodeEntry({
      v: ENTRY_VERSION,
      k: key.hash,
      ns: key.namespace,
      createdAt: this.options.clock.now(),
      expiresAt: null,
      tags: [],
      gens: [textGeneration(answer, key.llmString)],
      llm: key.llmString,
      prompt: key.prompt,
    }).payload;
  }

  /** One JSON call; an HTTP error status or a body that is not JSON is an error naming the call. */
  private call(method: 'GET' | 'POST', path: string, body?: object): Promise<unknown> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const url = new URL(path.slice(1), this.base.href.endsWith('/') ? this.base : `${this.base.href}/`);
    return new Promise((resolve, reject) => {
      const req = this.request(
        url,
        {
          method,
          agent: this.agent,
          timeout: this.options.timeoutMs,
          headers:
            data === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) {
              reject(
                new TierUnavailableError(
                  `GPTCache ${method} ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`,
                ),
              );
              return;
            }
            try {
              resolve(JSON.parse(text));
            } catch (error) {
              reject(
                new TierUnavailableError(
                  `GPTCache ${method} ${path}: answer is not JSON: ${text.slice(0, 200)}`,
                  {
                    cause: error,
                  },
                ),
              );
            }
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(
          new TierUnavailableError(`GPTCache ${method} ${path}: no answer in ${this.options.timeoutMs} ms`),
        ),
      );
      req.on('error', reject);
      req.end(data);
    });
  }
}
