/**
 * LangChain generations <-> the plain data an entry stores, and the check that a stored answer
 * is one LangChain can hand back. LangChain's own serializeGeneration drops generationInfo
 * (finish reasons, logprobs); it is kept here.
 */
import { deserializeStoredGeneration, serializeGeneration } from '@langchain/core/caches';
import { AIMessage } from '@langchain/core/messages';
import type { Generation } from '@langchain/core/outputs';
import { type Answer, generationText, type StoredGenerationData } from '../core/entry.js';

/**
 * The answer is stored once: a chat generation's text is its message's string content, so the
 * text is left out when it equals that content (a 50 MB answer stays 50 MB, not 100).
 */
export function toStored(generation: Generation): StoredGenerationData {
  const stored = serializeGeneration(generation) as StoredGenerationData;
  if (stored.message && stored.message.data.content === stored.text) delete stored.text;
  if (generation.generationInfo && Object.keys(generation.generationInfo).length > 0) {
    stored.generationInfo = generation.generationInfo;
  }
  return stored;
}

/**
 * Builds new objects on every call: nothing a caller does to them reaches the cache. A chat
 * model's answer stored as text only (another GPTCache client's answer, an import) becomes an
 * AIMessage, which is what a chat model returns.
 */
export function fromStored(stored: StoredGenerationData, chat: boolean): Generation {
  const text = generationText(stored);
  const generation: Generation =
    stored.message !== undefined
      ? deserializeStoredGeneration({ text, message: stored.message } as unknown as Parameters<
          typeof deserializeStoredGeneration
        >[0])
      : chat
        ? ({ text, message: new AIMessage({ content: text }) } as Generation)
        : { text };
  if (stored.generationInfo) generation.generationInfo = stored.generationInfo;
  return generation;
}

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
 * Whether LangChain can return these generations as they are: at least one, every message of a
 * known type with content LangChain's constructors accept. Checked on every hit before the
 * answer leaves the cache (Manager `isUsable`), so an entry written by another version, another
 * client or a crafted import is a miss, never an exception inside `model.invoke`.
 */
export function isUsableByLangChain(answer: Answer): boolean {
  if (answer.gens.length === 0) return false;
  for (const g of answer.gens) {
    if (g.generationInfo !== undefined && !isPlainObject(g.generationInfo)) return false;
    const message = g.message;
    if (message === undefined) continue;
    if (!isPlainObject(message) || typeof message.type !== 'string' || !isPlainObject(message.data))
      return false;
    if (!Object.hasOwn(MESSAGE_TYPES, message.type)) return false;
    const required = MESSAGE_TYPES[message.type];
    if (required !== undefined && message.data[required] === undefined) return false;
    const content = message.data.content;
    if (typeof content !== 'string' && !(Array.isArray(content) && content.every(isPlainObject)))
      return false;
    for (const list of ['tool_calls', 'invalid_tool_calls']) {
      const calls = message.data[list];
      if (calls !== undefined && !(Array.isArray(calls) && calls.every(isPlainObject))) return false;
    }
    for (const map of ['additional_kwargs', 'response_metadata', 'usage_metadata']) {
      const value = message.data[map];
      if (value !== undefined && value !== null && !isPlainObject(value)) return false;
    }
  }
  return true;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}
