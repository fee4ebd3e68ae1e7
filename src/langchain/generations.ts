/**
 * LangChain generations <-> the plain data an entry stores (core/entry.ts; which stored answers
 * are well formed is core/usable-answer.ts). LangChain's own serializeGeneration drops
 * generationInfo (finish reasons, logprobs); it is kept here.
 */
import { deserializeStoredGeneration, serializeGeneration } from '@langchain/core/caches';
import { AIMessage } from '@langchain/core/messages';
import type { Generation } from '@langchain/core/outputs';
import { copyJson } from '../core/decoded.js';
import { generationText, isChatLlmString, type StoredGenerationData } from '../core/entry.js';
import type { Hit } from '../core/events.js';

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
 * Builds new objects on every call, copying whatever LangChain's objects keep of `stored` (a
 * message's data becomes its fields and `lc_kwargs`), so `stored` may be the answer every hit
 * shares (core/options.ts `shared`) and nothing a caller does reaches the cache. A chat
 * model's answer stored as text only (another GPTCache client's answer, an import) becomes an
 * AIMessage, which is what a chat model returns.
 */
export function fromStored(stored: StoredGenerationData, chat: boolean): Generation {
  const text = generationText(stored);
  const message = stored.message;
  const generation: Generation =
    message !== undefined
      ? deserializeStoredGeneration({
          text,
          message: { type: message.type, data: copyJson(message.data) },
        } as unknown as Parameters<typeof deserializeStoredGeneration>[0])
      : chat
        ? ({ text, message: new AIMessage({ content: text }) } as Generation)
        : { text };
  if (stored.generationInfo)
    generation.generationInfo = copyJson(stored.generationInfo) as Record<string, unknown>;
  return generation;
}

/** Fresh LangChain generations for a hit on a key of this llm string; throws if they cannot be built. */
export function generationsOf(hit: Hit, llmString: string): Generation[] {
  const chat = chatModel(llmString);
  return hit.entry.gens.map((g) => fromStored(g, chat));
}

/**
 * Whether an llm string is a chat model's, remembered for the last one asked: a model sends the
 * same llm string on every call, and the answer is otherwise a scan of it on every hit.
 */
let lastLlmString = '';
let lastIsChat = false;
function chatModel(llmString: string): boolean {
  if (llmString !== lastLlmString) {
    lastIsChat = isChatLlmString(llmString);
    lastLlmString = llmString;
  }
  return lastIsChat;
}
