/**
 * Which model answers: established by Strata from the model instance, not trusted from
 * LangChain's llmKey.
 *
 * LangChain builds a cache's llmKey from `_identifyingParams()`, which most provider classes
 * leave empty: for ChatGroq, ChatMistralAI, ChatBedrockConverse, the Google, Ollama and Cohere
 * classes and most community models it is `_model:"base_chat_model",_type:"groq"`, with no model
 * name, no temperature and no endpoint, so two models would share answers. Where Strata holds the
 * instance (withCache, and views made by `cache.attach(model)`), the key is extended with the
 * model's identity:
 *
 * - its class and `_llmType()`;
 * - `invocationParams(callOptions)`: what the class itself sends for this call (model, sampling
 *   parameters, response format), for every class that implements it;
 * - `lc_kwargs`: the configuration it was constructed with (model, temperature, base URL,
 *   region, client options). Constructor arguments, not the instance's own fields: those are
 *   filled lazily (an SDK client, a fetched access token, a tokenizer) and would change the key
 *   after the first call.
 *
 * The provider's own credentials (the fields core/secrets.ts knows provider classes keep them in:
 * `apiKey`, `credentials`, `authOptions`, ..., at the top of the configuration or of its client
 * options, and the auth headers and key query parameters of their header and query maps) are left
 * out here: they say who pays, not what is answered, and a rotated key keeps its answers.
 * Everything else passes through the core sanitizer like any llmKey (a secret-looking value is
 * replaced by its keyed digest, never dropped). Functions cannot be compared and are left out; an SDK client
 * or other class instance enters as its class name and the strings that say where it sends
 * requests (base URL, endpoint, host, region).
 *
 * Without the instance (LangChain's plain `cache` option), `unidentifiedModel` tells whether an
 * llmKey establishes the model on its own; when it does not, the lookup is refused.
 */
import { createHash } from 'node:crypto';
import { sanitizeLlmKey } from '../core/key.js';
import {
  CREDENTIAL_FIELDS,
  CREDENTIAL_HEADERS,
  CREDENTIAL_QUERY_PARAMS,
  parseLangChainKey,
} from '../core/secrets.js';
import { UnidentifiableModelError } from '../errors.js';

/** Configuration that does not change an answer, or changes on its own: never part of the identity. */
const NOT_IDENTITY = new Set([
  'cache',
  'callbacks',
  'callbackManager',
  'verbose',
  'tags',
  'metadata',
  'caller',
  'maxRetries',
  'maxConcurrency',
  'onFailedAttempt',
  'timeout',
  'signal',
  'streaming',
  'stream',
  'stream_options',
  'streamUsage',
  'disableStreaming',
  'lc_serializable',
  'lc_kwargs',
  'lc_namespace',
  'lc_runnable',
  'fetch',
]);

/**
 * Containers of a provider SDK's client options, or copies of the constructor arguments a class
 * keeps (`fields`, google-common's `originalFields`): credentials sit in them as at the top.
 */
const CLIENT_OPTIONS = new Set([
  'clientOptions',
  'configuration',
  'clientConfig',
  'fields',
  'originalFields',
  'options',
]);
/** Header and query maps of a provider's client: their auth headers and key parameters are credentials. */
const HEADER_MAPS = new Set(['defaultHeaders', 'headers']);
const QUERY_MAPS = new Set(['defaultQuery', 'query']);

/** Where a value sits: at the top of a model's configuration or client options, in one of their header or query maps, or elsewhere. */
type Place = 'config' | 'headers' | 'query' | 'other';

function leftOut(place: Place, name: string): boolean {
  if (place === 'config') return CREDENTIAL_FIELDS.has(name);
  if (place === 'headers') return CREDENTIAL_HEADERS.has(name.toLowerCase());
  if (place === 'query') return CREDENTIAL_QUERY_PARAMS.has(name.toLowerCase());
  return false;
}

function placeOf(parent: Place, name: string): Place {
  if (parent !== 'config') return 'other';
  if (CLIENT_OPTIONS.has(name)) return 'config';
  if (HEADER_MAPS.has(name)) return 'headers';
  if (QUERY_MAPS.has(name)) return 'query';
  return 'other';
}

/** Strings of an SDK client or other class instance that say where requests go. */
const WHERE = /url|endpoint|host|region|location|project|deployment|instance|account|version/i;

/**
 * Deeper than this, a configuration is not one a model was given but a cycle of objects or an
 * attack: the identity cannot be established, and the call is not cached (fail closed).
 */
const MAX_DEPTH = 200;

/**
 * The identity of a model for one call, as one `name:JSON` pair appended to LangChain's llmKey:
 * the SHA-256 of the identity after the core sanitizer has dealt with its secrets. A digest, so
 * every stored entry carries 80 bytes rather than the model's whole configuration (a fake model's
 * configuration holds its answers); LangChain's own pairs stay readable beside it. Throws
 * UnidentifiableModelError when the identity cannot be established.
 */
export function identityPair(model: object, callOptions: object): string {
  let json: string;
  try {
    json = JSON.stringify(modelIdentity(model, callOptions));
  } catch (error) {
    throw error instanceof UnidentifiableModelError
      ? error
      : new UnidentifiableModelError(`its configuration cannot be read (${(error as Error)?.message})`);
  }
  const known = lastDigest.get(model);
  if (known?.json === json) return known.pair;
  const pair = `_strata_identity:"sha256:${createHash('sha256')
    .update(sanitizeLlmKey(`_strata_identity:${json}`))
    .digest('hex')}"`;
  lastDigest.set(model, { json, pair });
  return pair;
}

/** The last identity of each model and its pair: a model is asked for the same one on every call. */
const lastDigest = new WeakMap<object, { json: string; pair: string }>();

type ModelLike = {
  constructor?: { name?: string };
  _llmType?: () => string;
  invocationParams?: (options: object) => unknown;
  lc_kwargs?: Record<string, unknown>;
};

export function modelIdentity(model: object, callOptions: object): Record<string, unknown> {
  return identityOf(model as ModelLike, callOptions, new Set([model]), 0);
}

/**
 * Class and type; what `invocationParams` sends; the constructor arguments (`lc_kwargs`); and the
 * instance's own data fields, which is where a class keeps what it read from the environment
 * (AZURE_OPENAI_API_DEPLOYMENT_NAME, OLLAMA_BASE_URL, AWS_DEFAULT_REGION) or what a subclass set
 * itself after `super()`. Those fields are taken once per instance, the first time Strata sees it
 * (`attach`, `withCache`): a class's own state that changes as it runs (a call counter, a token
 * fetched later) must not change the key after the first call. What changes per call is in the
 * invocation parameters, which are read every time.
 */
function identityOf(
  m: ModelLike,
  callOptions: object,
  seen: Set<object>,
  depth: number,
): Record<string, unknown> {
  const identity: Record<string, unknown> = { class: m.constructor?.name ?? 'unknown' };
  try {
    identity.type = m._llmType?.();
  } catch {
    identity.type = 'unavailable';
  }
  if (typeof m.invocationParams === 'function') {
    let params: unknown;
    try {
      params = m.invocationParams(callOptions);
    } catch {
      // Some classes need a live client to say; their configuration below still names the model.
      params = 'unavailable';
    }
    identity.invocation = describe(params, depth + 1, seen, 'config');
  }
  identity.config = describe(m.lc_kwargs ?? {}, depth + 1, seen, 'config');
  let fields = firstFields.get(m);
  if (fields === undefined) {
    fields = ownFields(m, depth, seen);
    firstFields.set(m, fields);
  }
  identity.fields = fields;
  return identity;
}

/** Each instance's own data fields as first seen (see identityOf). */
const firstFields = new WeakMap<object, Record<string, unknown>>();

function ownFields(m: object, depth: number, seen: Set<object>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const name of Object.keys(m).sort()) {
    if (
      name.startsWith('_') ||
      name.startsWith('lc_') ||
      NOT_IDENTITY.has(name) ||
      CREDENTIAL_FIELDS.has(name)
    )
      continue;
    const value = (m as Record<string, unknown>)[name];
    if (value !== null && typeof value === 'object' && !isPlainData(value)) continue;
    const described = describe(value, depth + 1, seen, placeOf('config', name));
    if (described !== undefined) fields[name] = described;
  }
  return fields;
}

/** Takes the model's fields as they are now (attach and withCache call it when they are given the model). */
export function noteModel(model: object): void {
  if (firstFields.has(model)) return;
  try {
    firstFields.set(model, ownFields(model, 0, new Set([model])));
  } catch {
    // Unreadable: identityPair says so on the first call, and that call is not cached.
  }
}

function isPlainData(value: object): boolean {
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * JSON-safe, deterministic (keys sorted), complete data of a configuration value; `place` says
 * where it sits, so that the provider's credentials, and at the top of the configuration the
 * fields that never change an answer, are left out. Nothing below is cut or renamed: a schema
 * property called `metadata` or `timeout`, the 300th value of an enum, a leaf six levels deep all
 * tell two configurations apart.
 */
function describe(value: unknown, depth: number, seen: Set<object>, place: Place): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value !== 'object') return undefined; // functions, symbols, undefined
  if (depth > MAX_DEPTH)
    throw new UnidentifiableModelError(`its configuration is nested more than ${MAX_DEPTH} deep`);
  if (seen.has(value)) return '[cycle]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => describe(item, depth + 1, seen, 'other') ?? null);
    if (value instanceof Date) return value.toISOString();
    if (ArrayBuffer.isView(value))
      return `[${value.constructor.name} sha256:${createHash('sha256')
        .update(new Uint8Array(value.buffer, value.byteOffset, value.byteLength))
        .digest('hex')}]`;
    if (!isPlainData(value)) return instance(value, seen, depth);
    const out: Record<string, unknown> = {};
    for (const name of Object.keys(value).sort()) {
      if (leftOut(place, name) || (place === 'config' && NOT_IDENTITY.has(name))) continue;
      const inner = describe((value as Record<string, unknown>)[name], depth + 1, seen, placeOf(place, name));
      if (inner !== undefined) out[name] = inner;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * A class instance. Another LangChain model or runnable (a wrapper's `llm`) is identified as a
 * model is; an SDK client or anything else by its class and the strings that say where it sends
 * requests (its base URL, endpoint, host, region).
 */
function instance(value: object, seen: Set<object>, depth: number): Record<string, unknown> {
  const serializable = value as ModelLike;
  if (serializable.lc_kwargs !== null && typeof serializable.lc_kwargs === 'object')
    return { $model: identityOf(serializable, {}, seen, depth + 1) };
  const out: Record<string, unknown> = { $class: value.constructor?.name ?? 'Object' };
  const visit = (obj: object, prefix: string, depth: number) => {
    if (seen.has(obj) || depth > 2) return;
    seen.add(obj);
    try {
      for (const name of Object.keys(obj).sort()) {
        let inner: unknown;
        try {
          inner = (obj as Record<string, unknown>)[name];
        } catch {
          continue;
        }
        if (typeof inner === 'string' && WHERE.test(name) && !CREDENTIAL_FIELDS.has(name))
          out[`${prefix}${name}`] = inner;
        else if (inner !== null && typeof inner === 'object' && !Array.isArray(inner))
          visit(inner, `${prefix}${name}.`, depth + 1);
      }
    } finally {
      seen.delete(obj);
    }
  };
  visit(value, '', 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The plain BaseCache path: is the llmKey enough on its own?
// ---------------------------------------------------------------------------------------------

/** Fields that name the model in LangChain llmKeys. */
const MODEL_FIELDS = new Set([
  'model',
  'modelName',
  'model_name',
  'modelId',
  'model_id',
  'deploymentName',
  'azureOpenAIApiDeploymentName',
  'endpointName',
  'repo_id',
]);
/** Fields that name where requests go. */
const ENDPOINT_FIELDS =
  /^(base_?url|api_?url|endpoint|endpoint_?url|endpoint_?host|server_?url|service_?url|host|region|location)$/i;

/**
 * Why an llmKey LangChain built (it has `_type`/`_model`) does not establish which model
 * answers, or undefined when it does. It does when it names the model and the client configuration that
 * says where the request goes travels with it: either an endpoint field, or the client's own
 * configuration (`@langchain/openai` and the classes built on it put `apiKey`, `baseURL` and
 * `dangerouslyAllowBrowser` into their llmKey, so a configured endpoint would be there too).
 * Every other shape (no model name, as for most classes; a model name without its endpoint, as
 * for ChatAnthropic or AzureChatOpenAI) is refused: two configurations of such a class produce
 * the same llmKey, and a wrong answer is worse than a miss.
 */
export function unidentifiedModel(llmKey: string): string | undefined {
  const pairs = parseLangChainKey(llmKey);
  // Not built by LangChain (a bare model name, JSON, pairs without `_type`): the caller named
  // the model itself, which is what the key needs.
  if (!pairs?.some(([name]) => name === '_type' || name === '_model')) return undefined;
  if (pairs.some(([name]) => name === '_strata_identity')) return undefined;
  const named = (test: (name: string) => boolean) =>
    pairs.some(([name, value]) => test(name) && typeof value === 'string' && value.length > 0);
  if (!named((name) => MODEL_FIELDS.has(name))) return 'it names no model';
  const clientConfig =
    pairs.some(([name]) => name === 'dangerouslyAllowBrowser') && pairs.some(([name]) => name === 'apiKey');
  if (!clientConfig && !named((name) => ENDPOINT_FIELDS.test(name)))
    return 'it names no endpoint (base URL or region) and the class does not put its client configuration in it';
  return undefined;
}

/** `_type` and `_model` of an llmKey, for messages: which kind of model of which provider is speaking. */
export function llmTypeOf(llmKey: string): { type: string; kind: string } {
  const pairs = parseLangChainKey(llmKey);
  const type = pairs?.find(([name]) => name === '_type')?.[1];
  const model = pairs?.find(([name]) => name === '_model')?.[1];
  return {
    type: typeof type === 'string' ? type : 'unknown',
    kind: model === 'base_llm' ? 'LLM' : model === 'base_chat_model' ? 'chat model' : 'model',
  };
}
