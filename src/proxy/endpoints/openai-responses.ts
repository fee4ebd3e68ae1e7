/**
 * OpenAI `POST /v1/responses`. A stream is named events with sequence numbers; the last,
 * `response.completed`, carries the whole response, which is what is stored. A replay emits the
 * events a live stream has for each output item (message text and its annotations, refusals,
 * reasoning summaries and text, function-call and custom-tool inputs, other items whole) so that
 * SDK helpers that accumulate events, and applications reading events, rebuild the same response.
 *
 * Not cached: requests bound to mutable server-side state (`conversation`) and `background` jobs.
 */

import { scrubRequestBody } from '../../core/secrets.js';
import { RequestError } from '../../errors.js';
import { formatEvent, type SseEvent } from '../sse.js';
import {
  type Endpoint,
  eventJson,
  finalText,
  isObject,
  type Json,
  OPENAI_IGNORED,
  promptOf,
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
      throw new RequestError('input: is required', 'STRATA_REQUEST_NO_INPUT');
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
  echo: {
    stored: storedResponse,
    forRequest: responseFor,
    signature: (body) => JSON.stringify(Object.keys(ECHOED_UNKEYED).map((f) => body[f] ?? null)),
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

/**
 * The stream's last event, `response.completed`, carries the whole response: nothing to build,
 * only to check that it holds every output item the stream finished on the way.
 */
class ResponsesAssembler implements StreamAssembler {
  unstorable: string | undefined;
  private response: Json | undefined;
  /** The output indexes of the items the stream finished (`response.output_item.done`). */
  private readonly finished = new Set<number>();

  push(event: SseEvent): 'more' | 'done' | 'error' {
    const data = eventJson(event.data);
    const type = event.event ?? data?.type;
    if (type === 'error' || type === 'response.failed' || type === 'response.incomplete') return 'error';
    if (type === 'response.output_item.done' && typeof data?.output_index === 'number')
      this.finished.add(data.output_index);
    if (type !== 'response.completed') return 'more';
    const response = data?.response;
    if (!isObject(response)) this.unstorable = 'a response.completed without its response';
    else if (
      !Array.isArray(response.output) ||
      [...this.finished].some((i) => i >= (response.output as unknown[]).length)
    )
      this.unstorable = 'a response.completed without every output item the stream sent';
    else this.response = response;
    return 'done';
  }

  result(): Json | undefined {
    return this.response;
  }
}

/**
 * The events a live stream has for each output item, so that an application reading events (not
 * only the SDK's helper, which takes the final response whole) sees text, refusals, annotations,
 * reasoning summaries and call arguments arrive as they would have.
 */
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
    const item_id = item.id;
    if (item.type === 'message' && Array.isArray(item.content)) {
      emit('response.output_item.added', {
        output_index,
        item: { ...item, status: 'in_progress', content: [] },
      });
      (item.content as Json[]).forEach((part, content_index) => {
        const at = { item_id, output_index, content_index };
        if (part.type === 'output_text') {
          emit('response.content_part.added', { ...at, part: { ...part, text: '', annotations: [] } });
          emit('response.output_text.delta', { ...at, delta: part.text, logprobs: [] });
          if (Array.isArray(part.annotations))
            part.annotations.forEach((annotation, annotation_index) => {
              emit('response.output_text.annotation.added', { ...at, annotation_index, annotation });
            });
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
    } else if (item.type === 'reasoning') {
      const summary = Array.isArray(item.summary) ? (item.summary as Json[]) : [];
      const content = Array.isArray(item.content) ? (item.content as Json[]) : undefined;
      emit('response.output_item.added', {
        output_index,
        item: { ...item, summary: [], ...(content ? { content: [] } : {}) },
      });
      summary.forEach((part, summary_index) => {
        const at = { item_id, output_index, summary_index };
        emit('response.reasoning_summary_part.added', { ...at, part: { ...part, text: '' } });
        emit('response.reasoning_summary_text.delta', { ...at, delta: part.text });
        emit('response.reasoning_summary_text.done', { ...at, text: part.text });
        emit('response.reasoning_summary_part.done', { ...at, part });
      });
      content?.forEach((part, content_index) => {
        const at = { item_id, output_index, content_index };
        emit('response.content_part.added', { ...at, part: { ...part, text: '' } });
        emit('response.reasoning_text.delta', { ...at, delta: part.text });
        emit('response.reasoning_text.done', { ...at, text: part.text });
        emit('response.content_part.done', { ...at, part });
      });
    } else if (item.type === 'function_call') {
      emit('response.output_item.added', {
        output_index,
        item: { ...item, status: 'in_progress', arguments: '' },
      });
      emit('response.function_call_arguments.delta', { item_id, output_index, delta: item.arguments });
      emit('response.function_call_arguments.done', { item_id, output_index, arguments: item.arguments });
    } else if (item.type === 'custom_tool_call') {
      emit('response.output_item.added', { output_index, item: { ...item, input: '' } });
      emit('response.custom_tool_call_input.delta', { item_id, output_index, delta: item.input });
      emit('response.custom_tool_call_input.done', { item_id, output_index, input: item.input });
    } else {
      emit('response.output_item.added', { output_index, item });
    }
    emit('response.output_item.done', { output_index, item });
  });
  emit('response.completed', { response });
  return events;
}

/**
 * Request fields a Responses object echoes that the key leaves out (OPENAI_IGNORED), with what
 * the API echoes when the request did not send them. Stored as those defaults, and sent on a hit
 * as the hit's own request has them: one caller's `user` or `metadata` never reaches another,
 * and a `store: false` request is never told `store: true`.
 */
const ECHOED_UNKEYED: Readonly<Record<string, unknown>> = {
  user: null,
  safety_identifier: null,
  prompt_cache_key: null,
  prompt_cache_retention: null,
  metadata: {},
  store: true,
};

function withEchoed(response: Json, body: Json): Json {
  const out: Json = { ...response };
  for (const [field, absent] of Object.entries(ECHOED_UNKEYED))
    if (field in response) out[field] = body[field] ?? absent;
  return out;
}

/**
 * The response as stored: the unkeyed echoes at their defaults, and the echoed `tools` as the
 * key has them (an MCP tool's `authorization` and headers as digests): an upstream echoes what
 * it was sent, and the store must not keep a credential it was given back. A hit shows those
 * digests in place of the tokens.
 */
function storedResponse(response: Json): Json {
  const out = withEchoed(response, {});
  if (response.tools !== undefined) out.tools = scrubRequestBody({ tools: response.tools }).tools;
  return out;
}

function responseFor(response: Json, body: Json): Json {
  return withEchoed(response, body);
}
