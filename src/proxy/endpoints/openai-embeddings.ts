/** OpenAI `POST /v1/embeddings`: never streamed, never matched by similarity (exact input only). */
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
