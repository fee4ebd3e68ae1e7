/**
 * OpenAI `POST /v1/completions` (the legacy text endpoint, still served by most OpenAI-compatible
 * servers). A stream is `text_completion` chunks whose choices carry text pieces by index, and
 * logprobs as lists that grow chunk by chunk.
 */

import { RequestError } from '../../errors.js';
import { formatEvent } from '../sse.js';
import {
  type CanonicalRequest,
  type Endpoint,
  isObject,
  type Json,
  OPENAI_IGNORED,
  promptOf,
  requireModel,
  usageFrom,
} from './endpoint.js';
import {
  askingForUsage,
  ChunkAssembler,
  chunkHead,
  includesUsage,
  isChoicesResponse,
  isUsageOnlyChunk,
  keep,
} from './openai-chunks.js';

export const openaiCompletions: Endpoint = {
  path: '/v1/completions',
  label: 'completions',
  api: 'openai',
  canonical(body): CanonicalRequest {
    const model = requireModel(body);
    if (body.prompt === undefined) throw new RequestError('prompt: is required', 'STRATA_REQUEST_NO_PROMPT');
    return {
      model,
      prompt: promptOf(body, 'prompt', OPENAI_IGNORED),
      question: typeof body.prompt === 'string' ? body.prompt : '',
      stream: body.stream === true,
      includeUsage: includesUsage(body),
    };
  },
  isResponse: (value): value is Json =>
    isChoicesResponse(value, 'text_completion', (c) => typeof c.text === 'string'),
  usage: (response) => usageFrom(response.usage, 'prompt_tokens', 'completion_tokens'),
  text: (response) => (response.choices as Json[]).map((c) => c.text).join('\n'),
  assembler: (maxBytes) => new CompletionAssembler(maxBytes),
  // Each choice whole in one chunk: its text is one piece, its logprobs lists whole.
  replay(response, { includeUsage }) {
    const head = chunkHead(response, 'text_completion');
    const events = (response.choices as Json[]).map((c) =>
      formatEvent({ ...head, choices: [c], ...(includeUsage ? { usage: null } : {}) }),
    );
    if (includeUsage) events.push(formatEvent({ ...head, choices: [], usage: response.usage ?? null }));
    events.push(formatEvent('[DONE]'));
    return events;
  },
  streamBody: askingForUsage,
  usageOnly: isUsageOnlyChunk,
};

interface CompletionDraft {
  /** finish_reason and whatever else a server adds to a choice (vLLM's stop_reason). */
  readonly choice: Json;
  /** text, and logprobs once any arrive. */
  readonly pieces: Json;
}

class CompletionAssembler extends ChunkAssembler<CompletionDraft> {
  constructor(maxBytes: number) {
    super('text_completion', maxBytes);
  }

  protected draft(): CompletionDraft {
    return { choice: { finish_reason: null }, pieces: { text: '', logprobs: null } };
  }

  protected merge(draft: CompletionDraft, piece: Json): void {
    const { index: _, text, logprobs, ...choice } = piece;
    keep(draft.choice, choice);
    this.append(draft.pieces, 'text', text);
    if (logprobs === undefined || logprobs === null) return;
    if (!isObject(logprobs)) {
      this.refuse('logprobs that are not an object');
      return;
    }
    // tokens, token_logprobs, top_logprobs and text_offset: lists that grow chunk by chunk.
    draft.pieces.logprobs ??= {};
    const into = draft.pieces.logprobs as Json;
    for (const [k, v] of Object.entries(logprobs)) this.append(into, k, v);
  }

  protected finish(d: CompletionDraft, index: number): Json {
    return { text: d.pieces.text, index, logprobs: d.pieces.logprobs, ...d.choice };
  }
}
