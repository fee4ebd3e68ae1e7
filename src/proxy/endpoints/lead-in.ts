/**
 * Whether a streamed event carries any of the answer: the gateway's counterpart of withCache's
 * carriesAnswer() (src/langchain/with-cache.ts). Providers open a stream with events that carry
 * none, and while a stale answer may still stand in (stages/stale.ts), the gateway holds those
 * back (stages/tee.ts): a stream that fails before its first answer-bearing event has passed
 * nothing on, as if it failed before its first event.
 *
 * The rule is narrow on purpose, as the library's is: only the known lead-in shapes carry no
 * answer; anything else (a field not known here, data that is not JSON) counts as answer, so a
 * failure after it surfaces rather than be answered stale.
 */
import type { SseEvent } from '../sse.js';
import { eventJson, isObject } from './endpoint.js';

/** Empty as the library sees it: absent, null, '' or an empty list. */
const empty = (value: unknown) =>
  value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);

/**
 * An OpenAI chat chunk carries no answer when each choice's delta holds at most a `role`, and
 * `content`, `refusal`, `tool_calls` or `function_call` only empty: the role-only opener
 * `{ role: 'assistant', content: '' }` (the library's empty content, no tool call chunk, only
 * `role` among its additional_kwargs). A choice's other fields (finish_reason, logprobs: null) and
 * the chunk's own (id, model, usage, an Azure prompt_filter_results with no choices) are metadata,
 * as response_metadata is to the library. Any other delta field (reasoning_content, audio, ...)
 * is answer, as it is to the library.
 */
export function chatChunkCarriesAnswer(event: SseEvent): boolean {
  if (event.data === '[DONE]') return false;
  const chunk = eventJson(event.data);
  if (!chunk || !Array.isArray(chunk.choices)) return true;
  return chunk.choices.some((choice: unknown) => {
    if (!isObject(choice)) return true;
    if (choice.logprobs !== undefined && choice.logprobs !== null) return true;
    const delta = choice.delta;
    if (delta === undefined) return false;
    if (!isObject(delta)) return true;
    return Object.entries(delta).some(([field, value]) =>
      field === 'role'
        ? false
        : ['content', 'refusal', 'tool_calls', 'function_call'].includes(field)
          ? !empty(value)
          : true,
    );
  });
}

/**
 * An Anthropic event carries no answer when it is `message_start` with no content yet (its usage
 * and ids are the library's metadata), a `ping`, the start of a text block with no text and no
 * citations (the library's empty text part), or a `message_delta` (stop reason and usage only).
 * A tool_use block's start names the tool (the library's tool call chunk), a thinking block's
 * start is not a text part: both are answer, as is every delta and any event not known here.
 */
export function messageEventCarriesAnswer(event: SseEvent): boolean {
  const data = eventJson(event.data);
  if (!data) return true;
  switch (data.type) {
    case 'ping':
    case 'message_delta':
      return false;
    case 'message_start': {
      const message = data.message;
      return !isObject(message) || !empty(message.content);
    }
    case 'content_block_start': {
      const block = data.content_block;
      return !isObject(block) || block.type !== 'text' || !empty(block.text) || !empty(block.citations);
    }
    default:
      return true;
  }
}
