/**
 * What one line of `strata export` must be for `strata import` to write it: a whole entry
 * (core/entry.ts) as JSON, checked field by field before any tier sees it. A line a tier cannot
 * store (a tag that is an object, a namespace of 5,000 characters) would otherwise fail in the
 * tier, count against its breaker and keep valid lines out; a line the cache cannot serve
 * (a message without content) would fail at lookup time.
 *
 * The schema validates and nothing else: the caller keeps the parsed JSON it passed in, so the
 * bytes re-encoded from it are exactly the ones exported (zod's output may order keys otherwise).
 */
import { z } from 'zod';
import { ENTRY_VERSION, type Entry, STORED_PROMPT_CHARS } from './entry.js';
import { hashKey, sanitizeLlmKey, validateNamespace } from './key.js';

/** Tags: as many and as long as every tier stores them (MySQL's tag column is VARCHAR(255)). */
export const MAX_TAGS = 64;
export const MAX_TAG_LENGTH = 255;
/** An excerpt of a prompt (entry.ts `promptExcerpt`): its bounded part and the note of what was left out. */
const MAX_EXCERPT_CHARS = 2 * STORED_PROMPT_CHARS;
/** Epoch milliseconds: the largest a JavaScript Date represents; also keeps SQL BIGINT columns in range. */
const MAX_TIME = 8.64e15;

const sha256Hex = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(/^[0-9a-f]{64}$/, `${what} must be 64 lowercase hex digits`);

const time = z
  .number({ error: 'must be a finite number' })
  .min(0, 'must not be negative')
  .max(MAX_TIME, 'must be an epoch time in milliseconds');

/** A JSON object (not an array, not null), any content. */
const plainObject = z.record(z.string(), z.unknown(), { error: 'must be a JSON object' });

/** For objects of a fixed shape: a clear word for a non-object, zod's own for unknown fields. */
const objectError = (issue: { code?: string }) =>
  issue.code === 'invalid_type' ? 'must be a JSON object' : undefined;

const namespace = z.string({ error: 'must be a string' }).superRefine((ns, ctx) => {
  const problem = validateNamespace(ns);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * The message types LangChain's `mapStoredMessageToChatMessage` turns back into a message, with
 * the field each one requires; any other would make every lookup of the entry throw.
 */
const MESSAGE_TYPES = ['human', 'ai', 'system', 'function', 'tool', 'generic'] as const;
const REQUIRED_BY_TYPE: Partial<Record<(typeof MESSAGE_TYPES)[number], string>> = {
  function: 'name',
  tool: 'tool_call_id',
  generic: 'role',
};

const listOfObjects = z.array(plainObject, { error: 'must be an array of JSON objects' });
const objectOrNull = z.record(z.string(), z.unknown(), { error: 'must be a JSON object or null' }).nullable();

/** The fields LangChain's message constructors read; any others pass through as they are. */
const messageData = z.looseObject(
  {
    content: z.union([z.string(), z.array(plainObject)], {
      error: 'must be a string or an array of content blocks',
    }),
    tool_calls: listOfObjects.optional(),
    invalid_tool_calls: listOfObjects.optional(),
    additional_kwargs: objectOrNull.optional(),
    response_metadata: objectOrNull.optional(),
    usage_metadata: objectOrNull.optional(),
  },
  { error: objectError },
);

const message = z
  .strictObject(
    {
      type: z.enum(MESSAGE_TYPES, { error: `must be one of ${MESSAGE_TYPES.join(', ')}` }),
      data: messageData,
    },
    { error: objectError },
  )
  .superRefine((m, ctx) => {
    const field = REQUIRED_BY_TYPE[m.type];
    if (field !== undefined && typeof m.data[field] !== 'string') {
      ctx.addIssue({
        code: 'custom',
        path: ['data', field],
        message: `a ${m.type} message needs a string ${field}`,
      });
    }
  });

/**
 * `text` may be left out of a chat generation whose message content is that text (the answer
 * is then stored once); the importer still checks that this version of the cache reads the
 * re-encoded entry back (`decodeEntry`).
 */
const generation = z
  .strictObject(
    {
      text: z.string({ error: 'must be a string' }).optional(),
      message: message.optional(),
      generationInfo: plainObject.optional(),
    },
    { error: objectError },
  )
  .superRefine((g, ctx) => {
    if (g.text === undefined && typeof g.message?.data.content !== 'string') {
      ctx.addIssue({
        code: 'custom',
        path: ['text'],
        message: 'must be a string (only a message with string content may stand in for it)',
      });
    }
  });

export const entryLineSchema = z
  .strictObject(
    {
      v: z.literal(ENTRY_VERSION, { error: `must be ${ENTRY_VERSION} (this version's entry format)` }),
      k: sha256Hex('the key hash'),
      ns: namespace,
      llm: z.string({ error: 'must be a string' }),
      prompt: z.string({ error: 'must be a string' }).optional(),
      ph: sha256Hex('the prompt hash').optional(),
      excerpt: z
        .string({ error: 'must be a string' })
        .max(MAX_EXCERPT_CHARS, `must be at most ${MAX_EXCERPT_CHARS} characters`)
        .optional(),
      createdAt: time,
      expiresAt: time.nullable(),
      /** Kept until then for stale-if-error (core/stale.ts). */
      staleUntil: time.optional(),
      tags: z
        .array(
          z
            .string({ error: 'must be a string' })
            .min(1, 'must not be empty')
            .max(MAX_TAG_LENGTH, `must be at most ${MAX_TAG_LENGTH} characters`),
          { error: 'must be an array of strings' },
        )
        .max(MAX_TAGS, `must hold at most ${MAX_TAGS} tags`)
        .refine((tags) => new Set(tags).size === tags.length, 'must not repeat a tag'),
      meta: plainObject.optional(),
      gens: z
        .array(generation, { error: 'must be an array of generations' })
        .min(1, 'must hold at least one generation'),
    },
    { error: objectError },
  )
  .superRefine((e, ctx) => {
    if ((e.prompt === undefined) === (e.ph === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [e.prompt === undefined ? 'prompt' : 'ph'],
        message: 'exactly one of prompt and ph (its hash) must be present',
      });
    }
    if (e.staleUntil !== undefined && (e.expiresAt === null || e.staleUntil < e.expiresAt)) {
      ctx.addIssue({
        code: 'custom',
        path: ['staleUntil'],
        message: 'a stale-if-error grace ends at or after the expiry it extends (expiresAt)',
      });
    }
    if (e.excerpt !== undefined && e.ph === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['excerpt'],
        message: 'an excerpt stands in for a prompt stored as its hash (ph), not beside the prompt',
      });
    }
  });

export type EntryLineResult = { ok: true; entry: Entry } | { ok: false; reason: string };

/**
 * Validates a parsed export line. On success the entry is the very object passed in, untouched.
 * The reason names at most three problems, each by its path (`gens[0].message.data`).
 */
export function validateEntryLine(parsed: unknown): EntryLineResult {
  const result = entryLineSchema.safeParse(parsed);
  if (result.success) return { ok: true, entry: parsed as Entry };
  const issues = result.error.issues;
  const shown = issues.slice(0, 3).map((i) => clip(`${formatPath(i.path)}: ${i.message}`));
  if (issues.length > 3) shown.push(`${issues.length - 3} more`);
  return { ok: false, reason: shown.join('; ') };
}

/** An issue may quote the line (an unknown key's name): keep a reason one readable line. */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'the line';
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return clip(out);
}

/**
 * Whether an entry's key hash is its own: with the prompt at hand, the hash is recomputed from
 * (namespace, llm string, prompt). An entry that carries only the prompt's hash (`ph`, written
 * under `storePrompt: false`) cannot be checked, so it is accepted only when the caller trusts
 * the file. Returns the problem, or undefined.
 */
export function entryKeyProblem(entry: Entry, options: { trustHashes: boolean }): string | undefined {
  // What the cache stores is always a sanitized llm string; one that still carries a secret was
  // not written by Strata, and must not reach a tier.
  if (sanitizeLlmKey(entry.llm) !== entry.llm)
    return 'its llm string carries a secret (or is not in a form Strata stores)';
  if (entry.prompt !== undefined) {
    return hashKey(entry.ns, entry.llm, entry.prompt) === entry.k
      ? undefined
      : 'its key hash does not match its namespace, llm and prompt';
  }
  return options.trustHashes
    ? undefined
    : 'it carries only the hash of its prompt (ph), so its key hash cannot be verified; ' +
        'pass --trust-hashes to import such lines from a file you trust';
}
