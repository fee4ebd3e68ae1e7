/**
 * OpenAI `POST /v1/embeddings`: never streamed, never matched by similarity (exact input only).
 * What a request is as the cache sees it and what a response is; the gateway caches it per input
 * (../embeddings/serve.ts), each entry a one-input response of this shape.
 */
import { RequestError } from '../../errors.js';
import {
  type Endpoint,
  isObject,
  type Json,
  OPENAI_IGNORED,
  promptOf,
  requireModel,
  usageFrom,
} from './endpoint.js';

export const openaiEmbeddings: Endpoint = {
  path: '/v1/embeddings',
  label: 'embeddings',
  api: 'openai',
  canonical(body) {
    const model = requireModel(body);
    if (body.input === undefined) throw new RequestError('input: is required', 'STRATA_REQUEST_NO_INPUT');
    return {
      model,
      prompt: promptOf(body, 'input', OPENAI_IGNORED),
      question: '',
      stream: false,
      includeUsage: false,
    };
  },
  isResponse(value): value is Json {
    return (
      isObject(value) &&
      value.object === 'list' &&
      Array.isArray(value.data) &&
      value.data.every((d) => isObject(d) && d.object === 'embedding')
    );
  },
  usage: (response) => usageFrom(response.usage, 'prompt_tokens', 'completion_tokens'),
  text: () => '',
};
