/** Which stored answers the engine may hand to a caller: the stored-generation format's rules. */
import { type Answer, isChatLlmString } from './entry.js';

/** Message types mapStoredMessageToChatMessage builds, and the field each one cannot do without. */
const MESSAGE_TYPES: Record<string, string | undefined> = {
  ai: undefined,
  human: undefined,
  system: undefined,
  function: 'name',
  tool: 'tool_call_id',
  generic: 'role',
};

/**
 * Whether a stored answer is well formed in the stored-generation format, so any edge can hand
 * it back as the model for `llmString` would: at least one generation; a chat model's answer an
 * AI message (or text, made into one), with content an output parser accepts (a string, or parts
 * each with a string `type`, text parts with string `text`), tool calls with a string name and
 * object arguments, and text that agrees with a string content. (The format is LangChain's stored
 * message, so what passes is what LangChain can deserialize.) Checked on every hit before the
 * answer leaves the cache and on import, so an entry written by another version, another client
 * or a crafted file is a miss, never an exception inside `model.invoke` or a chain after it.
 */
export function isUsableAnswer(answer: Answer, llmString: string): boolean {
  if (answer.gens.length === 0) return false;
  const chat = isChatLlmString(llmString);
  for (const g of answer.gens) {
    if (g.generationInfo !== undefined && !isPlainObject(g.generationInfo)) return false;
    const message = g.message;
    if (message === undefined) continue;
    if (!isPlainObject(message) || typeof message.type !== 'string' || !isPlainObject(message.data))
      return false;
    if (!Object.hasOwn(MESSAGE_TYPES, message.type)) return false;
    if (chat && message.type !== 'ai') return false;
    const data = message.data;
    const required = MESSAGE_TYPES[message.type];
    if (required !== undefined && typeof data[required] !== 'string') return false;
    if (!isUsableContent(data.content)) return false;
    if (typeof data.content === 'string' && g.text !== undefined && g.text !== data.content) return false;
    if (!optional(data.tool_calls, (calls) => Array.isArray(calls) && calls.every(isToolCall))) return false;
    if (!optional(data.invalid_tool_calls, (calls) => Array.isArray(calls) && calls.every(isPlainObject)))
      return false;
    for (const field of ['additional_kwargs', 'response_metadata']) {
      if (!optional(data[field], isPlainObject)) return false;
    }
    if (!optional(data.usage_metadata, isUsage)) return false;
    for (const field of ['id', 'name']) {
      if (!optional(data[field], (x) => typeof x === 'string')) return false;
    }
  }
  return true;
}

function optional(value: unknown, valid: (x: unknown) => boolean): boolean {
  return value === undefined || valid(value);
}

function isUsableContent(content: unknown): boolean {
  if (typeof content === 'string') return true;
  return (
    Array.isArray(content) &&
    content.every(
      (part) =>
        isPlainObject(part) &&
        typeof part.type === 'string' &&
        (part.type !== 'text' || typeof part.text === 'string'),
    )
  );
}

function isToolCall(call: unknown): boolean {
  return (
    isPlainObject(call) &&
    typeof call.name === 'string' &&
    isPlainObject(call.args) &&
    (call.id === undefined || call.id === null || typeof call.id === 'string')
  );
}

function isUsage(usage: unknown): boolean {
  if (!isPlainObject(usage)) return false;
  return ['input_tokens', 'output_tokens', 'total_tokens'].every((k) => {
    const n = usage[k];
    return n === undefined || (typeof n === 'number' && Number.isFinite(n) && n >= 0);
  });
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}
