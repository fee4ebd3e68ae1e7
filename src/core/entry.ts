/**
 * The entry envelope: the one place that decides what bytes every tier stores.
 *
 * Tiers persist the encoded payload as an opaque string next to the few columns they index
 * (expiry, tags, namespace). The payload is self-describing (version, full key, expiry) so the
 * manager can refuse anything that is not exactly what was asked for: a payload of another
 * version, another key, or one that fails to parse is a miss, never a wrong answer or a throw.
 */
import { type CacheKey, hashPrompt } from './key.js';

export const ENTRY_VERSION = 1;

/**
 * `serializeGeneration`'s output plus `generationInfo`, which LangChain's helper drops. `text` is
 * left out when it equals the message's string content, so an answer is stored once.
 */
export interface StoredGenerationData {
  text?: string;
  message?: { type: string; data: Record<string, unknown> };
  generationInfo?: Record<string, unknown>;
}

/** Whether an llm string is a LangChain chat model's (its `_model` field says so). */
export function isChatLlmString(llmString: string): boolean {
  return llmString.includes('_model:"base_chat_model"');
}

/**
 * A plain-text answer (another client's, as GPTCache holds them) as the generation the asking
 * model returns: an AI message for a chat model, text for an LLM.
 */
export function textGeneration(text: string, llmString: string): StoredGenerationData {
  return isChatLlmString(llmString) ? { message: { type: 'ai', data: { content: text } } } : { text };
}

/** A stored generation's text: its own, or its message's string content. */
export function generationText(g: StoredGenerationData): string {
  if (g.text !== undefined) return g.text;
  const content = g.message?.data?.content;
  return typeof content === 'string' ? content : '';
}

/** What a hit needs: the answer and enough of the key to prove it is the right one. */
export interface Answer {
  v: typeof ENTRY_VERSION;
  /** Key hash: SHA-256 over (namespace, llm string, prompt); checked against the lookup key on every read. */
  k: string;
  ns: string;
  createdAt: number;
  /** When the answer stops being fresh (a lookup then misses); null = never. */
  expiresAt: number | null;
  /**
   * Set when the entry was written with a stale-if-error grace (core/stale.ts): it is kept until
   * then, past `expiresAt`, to answer only a call whose model failed. Tiers expire it at this time.
   */
  staleUntil?: number;
  tags: string[];
  meta?: Record<string, unknown>;
  gens: StoredGenerationData[];
}

/** The whole entry: the answer plus the request it answers, for export, inspection and SQL columns. */
export interface Entry extends Answer {
  llm: string;
  /**
   * Absent when the cache runs with `storePrompt: false`, or when the prompt was longer than the
   * writer let it store (`maxPromptChars`, the gateway's); `ph` (its SHA-256) is stored instead.
   */
  prompt?: string;
  ph?: string;
  /**
   * Beside `ph` when only the prompt's length kept it out: its start and end, for inspection and
   * search (see `promptExcerpt`). Shown, never compared: the key hash and `ph` identify the prompt.
   */
  excerpt?: string;
}

/** What a tier is handed to store: the payload plus what it may index. */
export interface StoredEntry {
  readonly payload: string;
  /** UTF-8 byte length of `payload`. */
  readonly size: number;
  readonly createdAt: number;
  /** Epoch ms; null = no expiry. A tier may shorten it to its own TTL, never extend it. */
  readonly expiresAt: number | null;
  readonly tags: readonly string[];
  /**
   * The prompt as tiers may store it in a column (for search): the entry's prompt, or its
   * excerpt when only that was stored; undefined under `storePrompt: false`.
   */
  readonly prompt?: string;
  readonly metadata?: Record<string, unknown>;
  /** Token counts the generations report, summed; absent when none does. For document tiers' usage field. */
  readonly usage?: TokenUsage;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/**
 * The payload is three JSON documents on three lines: head (version, key hash, times, tags),
 * generations, and origin (llm string, prompt). A hit parses only the first two; the origin,
 * usually the largest part, is read only for export and inspection. JSON never contains a raw
 * newline, so the split is unambiguous.
 */
/**
 * The longest prompt an entry holds whole when its writer bounds it (the gateway: a request may
 * be 32 MiB, and a prompt stored whole is stored twice, in the payload and a tier's column), and
 * the size of the excerpt a longer one gets instead.
 */
export const STORED_PROMPT_CHARS = 4096;

/**
 * The entry for a new answer to `key`: the prompt itself; or only its hash under
 * `storePrompt: false`; or, when it is longer than `maxPromptChars`, its hash and an excerpt.
 */
export function newEntry(
  key: CacheKey,
  gens: StoredGenerationData[],
  o: {
    now: number;
    storePrompt: boolean;
    maxPromptChars?: number;
    ttlMs?: number | null;
    /** Stale-if-error grace: kept this long past its expiry (core/stale.ts); 0 or unset: none. */
    staleMs?: number;
    tags?: readonly string[];
    metadata?: Record<string, unknown>;
  },
): Entry {
  const expiresAt = o.ttlMs === null || o.ttlMs === undefined ? null : o.now + o.ttlMs;
  const whole = o.storePrompt && (o.maxPromptChars === undefined || key.prompt.length <= o.maxPromptChars);
  return {
    v: ENTRY_VERSION,
    k: key.hash,
    ns: key.namespace,
    llm: key.llmString,
    ...(whole ? { prompt: key.prompt } : { ph: hashPrompt(key.prompt) }),
    ...(!whole && o.storePrompt ? { excerpt: promptExcerpt(key.prompt, o.maxPromptChars!) } : {}),
    gens,
    createdAt: o.now,
    expiresAt,
    ...(expiresAt !== null && o.staleMs ? { staleUntil: expiresAt + o.staleMs } : {}),
    tags: [...(o.tags ?? [])],
    ...(o.metadata ? { meta: o.metadata } : {}),
  };
}

export function encodeEntry(entry: Entry): StoredEntry {
  const head = {
    v: entry.v,
    k: entry.k,
    ns: entry.ns,
    createdAt: entry.createdAt,
    expiresAt: entry.expiresAt,
    ...(entry.staleUntil === undefined ? {} : { staleUntil: entry.staleUntil }),
    tags: entry.tags,
    ...(entry.meta === undefined ? {} : { meta: entry.meta }),
  };
  const origin = {
    llm: entry.llm,
    ...(entry.prompt === undefined ? {} : { prompt: entry.prompt }),
    ...(entry.ph === undefined ? {} : { ph: entry.ph }),
    ...(entry.excerpt === undefined ? {} : { excerpt: entry.excerpt }),
  };
  return storedEntry(
    entry,
    `${JSON.stringify(head)}\n${JSON.stringify(entry.gens)}\n${JSON.stringify(origin)}`,
  );
}

/** The stored form of an entry whose payload is already at hand (backfill, import). */
export function storedEntry(
  entry: Answer & { prompt?: string; excerpt?: string },
  payload: string,
): StoredEntry {
  const prompt = entry.prompt ?? entry.excerpt;
  return {
    payload,
    size: Buffer.byteLength(payload),
    createdAt: entry.createdAt,
    // What tiers expire by: past a stale-if-error grace, if the entry has one.
    expiresAt: entry.staleUntil ?? entry.expiresAt,
    tags: entry.tags,
    ...(prompt === undefined ? {} : { prompt }),
    ...(entry.meta === undefined ? {} : { metadata: entry.meta }),
    ...withUsage(entry.gens),
  };
}

/**
 * A prompt's start and end, `chars` characters of it, with a note between them of how much was
 * left out: a request's parameters and first messages, and its last turns with the question. Never cut inside a surrogate pair, so the excerpt is well-formed wherever the prompt is.
 */
export function promptExcerpt(prompt: string, chars: number): string {
  if (prompt.length <= chars) return prompt;
  const headChars = Math.floor(chars / 4);
  const tailChars = chars - headChars;
  let head = headChars;
  if (isHighSurrogate(prompt.charCodeAt(head - 1))) head--;
  let tail = prompt.length - tailChars;
  if (isLowSurrogate(prompt.charCodeAt(tail))) tail++;
  return `${prompt.slice(0, head)}\n…[${tail - head} characters left out]…\n${prompt.slice(tail)}`;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Token counts as chat models report them: `usage_metadata` on the AI message (LangChain's
 * standard field), else the OpenAI-style `tokenUsage` some LLMs put in `generationInfo`.
 */
export function tokenUsage(gens: StoredGenerationData[]): TokenUsage | undefined {
  let found = false;
  const usage: TokenUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  for (const g of gens) {
    const m = g.message?.data?.usage_metadata as Record<string, unknown> | undefined;
    const info = g.generationInfo?.tokenUsage as Record<string, unknown> | undefined;
    const input = count(m?.input_tokens ?? info?.promptTokens);
    const output = count(m?.output_tokens ?? info?.completionTokens);
    if (input === undefined && output === undefined) continue;
    found = true;
    usage.inputTokens += input ?? 0;
    usage.outputTokens += output ?? 0;
    usage.totalTokens += count(m?.total_tokens ?? info?.totalTokens) ?? (input ?? 0) + (output ?? 0);
  }
  return found ? usage : undefined;
}

function withUsage(gens: StoredGenerationData[]): { usage?: TokenUsage } {
  const usage = tokenUsage(gens);
  return usage ? { usage } : {};
}

function count(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : undefined;
}

/** The same stored entry with a shorter expiry (per-tier TTL, backfill). */
export function withExpiry(stored: StoredEntry, expiresAt: number | null): StoredEntry {
  return expiresAt === stored.expiresAt ? stored : { ...stored, expiresAt };
}

export function earliestExpiry(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

/** The answer in a payload, without its origin line. Malformed or of another version: undefined, never a throw. */
export function decodeAnswer(payload: string): Answer | undefined {
  const first = payload.indexOf('\n');
  const second = first < 0 ? -1 : payload.indexOf('\n', first + 1);
  if (second < 0) return undefined;
  try {
    const answer = JSON.parse(payload.slice(0, first)) as Record<string, unknown>;
    if (answer === null || typeof answer !== 'object') return undefined;
    answer.gens = JSON.parse(payload.slice(first + 1, second)) as unknown;
    return isAnswer(answer) ? answer : undefined;
  } catch {
    return undefined;
  }
}

/** The whole entry in a payload. Malformed or of another version: undefined, never a throw. */
export function decodeEntry(payload: string): Entry | undefined {
  const answer = decodeAnswer(payload);
  if (!answer) return undefined;
  try {
    const origin = JSON.parse(payload.slice(payload.indexOf('\n', payload.indexOf('\n') + 1) + 1)) as unknown;
    const entry = { ...answer, ...(origin as object) };
    return isEntry(entry) ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** Validates a whole entry given as an object (an export line). */
export function isEntry(x: unknown): x is Entry {
  if (!isAnswer(x)) return false;
  const e = x as unknown as Record<string, unknown>;
  return (
    typeof e.llm === 'string' &&
    (e.prompt === undefined || typeof e.prompt === 'string') &&
    (e.excerpt === undefined || typeof e.excerpt === 'string')
  );
}

function isAnswer(x: unknown): x is Answer {
  if (x === null || typeof x !== 'object') return false;
  const e = x as Record<string, unknown>;
  return (
    e.v === ENTRY_VERSION &&
    typeof e.k === 'string' &&
    typeof e.ns === 'string' &&
    isGenerationList(e.gens) &&
    typeof e.createdAt === 'number' &&
    (e.expiresAt === null || typeof e.expiresAt === 'number') &&
    (e.staleUntil === undefined || (typeof e.expiresAt === 'number' && typeof e.staleUntil === 'number')) &&
    Array.isArray(e.tags)
  );
}

/** Generations an entry can carry: a list of objects each with its text or a message's string content. */
export function isGenerationList(gens: unknown): gens is StoredGenerationData[] {
  return Array.isArray(gens) && gens.every(isGeneration);
}

function isGeneration(g: unknown): boolean {
  if (g === null || typeof g !== 'object') return false;
  const { text, message } = g as { text?: unknown; message?: { data?: { content?: unknown } } };
  if (typeof text === 'string') return true;
  return text === undefined && typeof message?.data?.content === 'string';
}

/**
 * An answer serves a key only if it was written for exactly that key: the stored hash covers
 * namespace, llm string and prompt, so a misfiled or colliding row is refused.
 */
export function answerMatchesKey(answer: Answer, key: CacheKey): boolean {
  return answer.k === key.hash && answer.ns === key.namespace;
}

/** Whether an entry was stored for this prompt text, whether the text itself was stored or only its hash. */
export function entryHasPrompt(entry: Entry, prompt: string): boolean {
  return entry.prompt === undefined ? entry.ph === hashPrompt(prompt) : entry.prompt === prompt;
}

export function isExpired(entry: { expiresAt: number | null }, now: number): boolean {
  return entry.expiresAt !== null && entry.expiresAt <= now;
}
