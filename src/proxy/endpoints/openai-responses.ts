/**
 * OpenAI `POST /v1/responses`. A stream is named events with sequence numbers; the last,
 * `response.completed`, carries the whole response, which is what is stored. A replay emits the
 * events a live stream has for each output item (message text, function-call arguments, other
 * items whole) so that SDK helpers that accumulate events rebuild the same response.
 *
 * Not cached: requests bound to mutable server-side state (`conversation`) and `background` jobs.
 */

import { formatEvent, type SseEvent } from '../sse.js';
import {
  type Endpoint,
  eventJson,
  finalText,
  isObject,
  type Json,
  OPENAI_IGNORED,
  promptOf,
  RequestError,
  requireModel,
  type StreamAssembler,
  usageFrom,
} from './endpoint.js';

export const openaiResponses: Endpoint = {
  path: '/v1/responses',
  label: 'responses',
  api: 'openai',
  canonical(body) {
    const model = requireModel(body);
    if (body.input === undefined && body.previous_response_id === undefined && body.prompt === undefined)
      throw new RequestError('input: is required');
    const bypass =
      body.conversation !== undefined && body.conversation !== null
        ? 'conversation state lives on the server'
        : body.background === true
          ? 'background responses are polled, not returned'
          : undefined;
    return {
      model,
      prompt: promptOf(body, 'input', OPENAI_IGNORED),
      question: questionOf(body.input),
      stream: body.stream === true,
      includeUsage: false,
      ...(bypass ? { bypass } : {}),
    };
  },
  isResponse(value): value is Json {
    return (
      isObject(value) &&
      value.object === 'response' &&
      value.status === 'completed' &&
      Array.isArray(value.output)
    );
  },
  usage: (response) => usageFrom(response.usage, 'input_tokens', 'output_tokens'),
  text: (response) =>
    (response.output as Json[])
      .flatMap((item) => (item.type === 'message' && Array.isArray(item.content) ? item.content : []))
      .map((part) => (isObject(part) && part.type === 'output_text' ? part.text : ''))
      .join(''),
  assembler: () => new ResponsesAssembler(),
  replay: replayResponse,
};

function questionOf(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  const last = input.at(-1);
  if (!isObject(last) || last.role !== 'user' || (last.type !== undefined && last.type !== 'message'))
    return '';
  return finalText(last.content, ['input_text']);
}

class ResponsesAssembler implements StreamAssembler {
  private response: Json | undefined;

  push(event: SseEvent): 'more' | 'done' | 'error' {
    const type = event.event ?? eventJson(event.data)?.type;
    if (type === 'error' || type === 'response.failed' || type === 'response.incomplete') return 'error';
    if (type !== 'response.completed') return 'more';
    const data = eventJson(event.data);
    this.response = isObject(data?.response) ? data.response : undefined;
    return this.response ? 'done' : 'error';
  }

  result(): Json | undefined {
    return this.response;
  }
}

function replayResponse(response: Json): string[] {
  const events: string[] = [];
  let sequence = 0;
  const emit = (type: string, fields: Json) => {
    events.push(formatEvent({ type, sequence_number: sequence++, ...fields }, type));
  };
  const pending = { ...response, status: 'in_progress', output: [], usage: null };
  emit('response.created', { response: pending });
  emit('response.in_progress', { response: pending });
  (response.output as Json[]).forEach((item, output_index) => {
    const id = item.id;
    if (item.type === 'message' && Array.isArray(item.content)) {
      emit('response.output_item.added', {
        output_index,
        item: { ...item, status: 'in_progress', content: [] },
      });
      (item.content as Json[]).forEach((part, content_index) => {
        const at = { item_id: id, output_index, content_index };
        if (part.type === 'output_text') {
          emit('response.content_part.added', { ...at, part: { ...part, text: '', annotations: [] } });
          emit('response.output_text.delta', { ...at, delta: part.text, logprobs: [] });
          emit('response.output_text.done', { ...at, text: part.text, logprobs: [] });
        } else if (part.type === 'refusal') {
          emit('response.content_part.added', { ...at, part: { ...part, refusal: '' } });
          emit('response.refusal.delta', { ...at, delta: part.refusal });
          emit('response.refusal.done', { ...at, refusal: part.refusal });
        } else {
          emit('response.content_part.added', { ...at, part });
        }
        emit('response.content_part.done', { ...at, part });
      });
    } else if (item.type === 'function_call') {
      emit('response.output_item.added', {
        output_index,
        item: { ...item, status: 'in_progress', arguments: '' },
      });
      emit('response.function_call_arguments.delta', { item_id: id, output_index, delta: item.arguments });
      emit('response.function_call_arguments.done', { item_id: id, output_index, arguments: item.arguments });
    } else {
      emit('response.output_item.added', { output_index, item });
    }
    emit('response.output_item.done', { output_index, item });
  });
  emit('response.completed', { response });
  return events;
}
