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

/** `serializeGeneration`'s output plus `generationInfo`, which LangChain's helper drops. */
export interface StoredGenerationData {
  text: string;
  message?: { type: string; data: Record<string, unknown> };
  generationInfo?: Record<string, unknown>;
}

export interface Entry {
  v: typeof ENTRY_VERSION;
  /** Key hash; checked against the lookup key on every read. */
  k: string;
  ns: string;
  llm: string;
  /** Absent when the cache runs with `storePrompt: false`; `ph` (its SHA-256) is stored instead. */
  prompt?: string;
  ph?: string;
  gens: StoredGenerationData[];
  createdAt: number;
  expiresAt: number | null;
  tags: string[];
  meta?: Record<string, unknown>;
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
  /** The prompt as tiers may store it in a column; undefined under `storePrompt: false`. */
  readonly prompt?: string;
  readonly metadata?: Record<string, unknown>;
}

export function encodeEntry(entry: Entry): StoredEntry {
  return storedEntry(entry, JSON.stringify(entry));
}

/** The stored form of an entry whose payload is already at hand (backfill, import). */
export function storedEntry(entry: Entry, payload: string): StoredEntry {
  return {
    payload,
    size: Buffer.byteLength(payload),
    createdAt: entry.createdAt,
    expiresAt: entry.expiresAt,
    tags: entry.tags,
    ...(entry.prompt === undefined ? {} : { prompt: entry.prompt }),
    ...(entry.meta === undefined ? {} : { metadata: entry.meta }),
  };
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

/**
 * Parse and validate a payload. Returns undefined for anything malformed or of another version:
 * corrupt bytes are a miss, never a throw.
 */
export function decodeEntry(payload: string): Entry | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return undefined;
  }
  return isEntry(parsed) ? parsed : undefined;
}

function isEntry(x: unknown): x is Entry {
  if (x === null || typeof x !== 'object') return false;
  const e = x as Record<string, unknown>;
  return (
    e.v === ENTRY_VERSION &&
    typeof e.k === 'string' &&
    typeof e.ns === 'string' &&
    typeof e.llm === 'string' &&
    (e.prompt === undefined || typeof e.prompt === 'string') &&
    Array.isArray(e.gens) &&
    e.gens.every(
      (g) => g !== null && typeof g === 'object' && typeof (g as { text: unknown }).text === 'string',
    ) &&
    typeof e.createdAt === 'number' &&
    (e.expiresAt === null || typeof e.expiresAt === 'number') &&
    Array.isArray(e.tags)
  );
}

/** An entry answers a key only if it was written for exactly that key. Guards against hash collisions and misfiled rows. */
export function entryMatchesKey(entry: Entry, key: CacheKey): boolean {
  return (
    entry.k === key.hash &&
    entry.ns === key.namespace &&
    entry.llm === key.llmString &&
    (entry.prompt === undefined || entry.prompt === key.prompt)
  );
}

/** Whether an entry was stored for this prompt text, whether the text itself was stored or only its hash. */
export function entryHasPrompt(entry: Entry, prompt: string): boolean {
  return entry.prompt === undefined ? entry.ph === hashPrompt(prompt) : entry.prompt === prompt;
}

export function isExpired(entry: { expiresAt: number | null }, now: number): boolean {
  return entry.expiresAt !== null && entry.expiresAt <= now;
}
