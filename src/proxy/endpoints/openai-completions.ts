/**
 * OpenAI `POST /v1/completions` (the legacy text endpoint, still served by most OpenAI-compatible
 * servers). A stream is `text_completion` chunks whose choices carry text pieces by index.
 */

import { formatEvent } from '../sse.js';
import {
  type CanonicalRequest,
  type Endpoint,
  type Json,
  OPENAI_IGNORED,
  promptOf,
  RequestError,
  requireModel,
  usageFrom,
} from './endpoint.js';
import {
  askingForUsage,
  ChunkAssembler,
  includesUsage,
  isChoicesResponse,
  isUsageOnlyChunk,
} from './openai-chunks.js';

export const openaiCompletions: Endpoint = {
  path: '/v1/completions',
  label: 'completions',
  api: 'openai',
  canonical(body): CanonicalRequest {
    const model = requireModel(body);
    if (body.prompt === undefined) throw new RequestError('prompt: is required');
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
  assembler: () => new CompletionAssembler(),
  replay(response, { includeUsage }) {
    const head = {
      id: response.id,
      object: 'text_completion',
      created: response.created,
      model: response.model,
    };
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
  text: string;
  logprobs: unknown;
  finishReason: string | null;
}

class CompletionAssembler extends ChunkAssembler<CompletionDraft> {
  constructor() {
    super('text_completion');
  }

  protected draft(): CompletionDraft {
    return { text: '', logprobs: null, finishReason: null };
  }

  protected merge(draft: CompletionDraft, piece: Json): void {
    if (typeof piece.text === 'string') draft.text += piece.text;
    if (piece.logprobs !== undefined && piece.logprobs !== null) draft.logprobs = piece.logprobs;
    if (typeof piece.finish_reason === 'string') draft.finishReason = piece.finish_reason;
  }

  protected finish(d: CompletionDraft, index: number): Json {
    return { text: d.text, index, logprobs: d.logprobs, finish_reason: d.finishReason };
  }
}
