/**
 * What of a request is the question, and what is its context.
 *
 * Every chat application sends a long system prompt, often a history, tools or retrieved
 * documents, and then a short question. Two requests that share all of that look almost
 * identical to any embedder, whatever the question. So a semantic match needs the *identical*
 * context (it is compared by digest, exactly) and a *similar* question (only the question is
 * embedded). This module makes the split, for the three shapes a prompt arrives in:
 *
 * - withCache's canonical request: a JSON list of messages (`[{"type":"human","content":...}]`).
 *   The question is the text of the final message if it is the user's; everything else
 *   (earlier turns, system prompts, tool calls and results, non-text parts, names) is context.
 * - LangChain's BaseCache prompt for chat models: `getBufferString`'s `Role: content` lines
 *   (`System: ...`, `Human: ...`, `AI: ...`, custom roles as given). The question is the final
 *   user block (`Human:` or a custom `user` role). It ends at the next line that starts like a
 *   message (`Word: `), and whatever follows goes to the context. Ambiguity: a line inside a
 *   message that itself reads `Role: ...` looks like a new message. The split then puts more
 *   into the context, which is compared exactly, so it can cost a hit but never cause a wrong one.
 * - Anything else (an LLM's string prompt) is all question, with an empty context.
 *
 * No question (the request ends with a tool result or an assistant turn): no semantic matching.
 */
import { createHash } from 'node:crypto';

export interface SplitRequest {
  /** What is embedded and compared by similarity. Empty: the request has no question to match. */
  readonly query: string;
  /** Everything else, compared exactly (by its digest). */
  readonly context: string;
}

/** Says which part of a prompt is the question (a template's slot, the text after "Question:"). */
export type QueryExtractor = (prompt: string) => string | undefined;

/**
 * `question`: what the caller said the question is (a view's or a call's `semanticQuery`);
 * `extract`: the tier's own extractor (its `queryPattern`). Either wins over the automatic split.
 */
export function splitRequest(prompt: string, question?: string, extract?: QueryExtractor): SplitRequest {
  if (question !== undefined) return splitAt(prompt, question);
  if (!extract) return splitCanonical(prompt) ?? splitBuffer(prompt, false) ?? { query: prompt, context: '' };
  // The extractor reads only the final user message (to the end of the request), so a pattern
  // like `Question: (.*)$` can never reach into the history or the message's other fields.
  const final = splitCanonical(prompt) ?? splitBuffer(prompt, true) ?? { query: prompt, context: '' };
  const within = splitAt(final.query, extract(final.query));
  return { query: within.query, context: `${final.context}\u0000${within.context}` };
}

/**
 * A query extractor from a regular expression, run on the final user message: the first capture
 * group (or the whole match) of its last match is the question. `.` does not cross lines unless
 * the pattern says so (`(?s)` is not JavaScript; use `[\s\S]`).
 */
export function patternExtractor(pattern: string): QueryExtractor {
  const re = new RegExp(pattern, 'gu');
  return (text) => {
    let last: string | undefined;
    for (const m of text.matchAll(re)) last = m[1] ?? m[0];
    return last;
  };
}

export function contextDigest(context: string): string {
  return createHash('sha256')
    .update(context.isWellFormed() ? context : JSON.stringify(context))
    .digest('hex');
}

/** The caller named the question; the prompt with the question cut out is the context. */
function splitAt(prompt: string, query: string | undefined): SplitRequest {
  if (query === undefined || query.length === 0) return { query: '', context: prompt };
  // In withCache's canonical request the text stands JSON-escaped.
  for (const form of [query, JSON.stringify(query).slice(1, -1)]) {
    const at = prompt.lastIndexOf(form);
    if (at >= 0) return { query, context: `${prompt.slice(0, at)}\u0000${prompt.slice(at + form.length)}` };
  }
  // A "question" that is not part of the prompt cannot be trusted to stand for it.
  return { query: '', context: prompt };
}

interface CanonicalMessage {
  type?: unknown;
  role?: unknown;
  content?: unknown;
}

/** withCache's canonical request (see canonicalRequest in src/langchain/with-cache.ts). */
function splitCanonical(prompt: string): SplitRequest | undefined {
  if (!prompt.startsWith('[{"type":')) return undefined;
  let messages: CanonicalMessage[];
  try {
    messages = JSON.parse(prompt) as CanonicalMessage[];
  } catch {
    return undefined;
  }
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  const last = messages[messages.length - 1]!;
  const isUser = last.type === 'human' || (last.type === 'generic' && isUserRole(last.role));
  if (!isUser) return { query: '', context: prompt };
  const { text, rest } = textOf(last.content);
  const { content: _, ...lastWithoutContent } = last;
  const context = JSON.stringify([...messages.slice(0, -1), { ...lastWithoutContent, rest }]);
  return { query: text, context };
}

/**
 * A message's text parts (the question) and the shape of the whole content (context): other
 * parts (images, files) in their places, each text part's place marked, so where the text
 * stands between images stays part of the context.
 */
function textOf(content: unknown): { text: string; rest: unknown[] } {
  if (typeof content === 'string') return { text: content, rest: [] };
  if (!Array.isArray(content)) return { text: '', rest: [content] };
  const texts: string[] = [];
  const rest: unknown[] = [];
  for (const part of content) {
    const p = part as { type?: unknown; text?: unknown };
    const text =
      typeof part === 'string' ? part : p?.type === 'text' && typeof p.text === 'string' ? p.text : undefined;
    if (text === undefined) rest.push(part);
    else {
      texts.push(text);
      rest.push({ text: texts.length });
    }
  }
  return { text: texts.join('\n'), rest };
}

const KNOWN_ROLES = new Set(['Human', 'AI', 'System', 'Tool', 'Function']);
const USER_ROLES = new Set(['human', 'user']);
const isUserRole = (role: unknown) => typeof role === 'string' && USER_ROLES.has(role.toLowerCase());
/** A line that starts like a message of getBufferString: `Role: ` (custom roles are single words). */
const ROLE_LINE = /^([A-Za-z][\w-]{0,39}): /;

/** LangChain's getBufferString transcript. Undefined when the prompt does not start like one. */
function splitBuffer(prompt: string, toTheEnd: boolean): SplitRequest | undefined {
  const lines = prompt.split('\n');
  const first = ROLE_LINE.exec(lines[0]!);
  if (!first || !(KNOWN_ROLES.has(first[1]!) || isUserRole(first[1]) || isAssistantOrSystem(first[1]!)))
    return undefined;
  let start = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    const role = ROLE_LINE.exec(lines[i]!)?.[1];
    if (role !== undefined && isUserRole(role)) {
      start = i;
      break;
    }
  }
  if (start < 0) return { query: '', context: prompt };
  let end = start + 1;
  if (toTheEnd) end = lines.length;
  else while (end < lines.length && !ROLE_LINE.test(lines[end]!)) end++;
  const roleLength = ROLE_LINE.exec(lines[start]!)![0].length;
  const query = [lines[start]!.slice(roleLength), ...lines.slice(start + 1, end)].join('\n');
  const context = [
    ...lines.slice(0, start),
    `${lines[start]!.slice(0, roleLength)}\u0000`,
    ...lines.slice(end),
  ].join('\n');
  return { query, context };
}

function isAssistantOrSystem(role: string): boolean {
  const r = role.toLowerCase();
  return r === 'assistant' || r === 'system' || r === 'developer' || r === 'ai' || r === 'tool';
}
