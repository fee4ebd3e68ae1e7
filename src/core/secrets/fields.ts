/**
 * Field names with a fixed role, whatever their values: a provider's credential and the call
 * options that are not the request (left out of the key), the request itself (kept verbatim),
 * header and query maps (judged by HTTP names), and model names (never digested for their looks).
 */

/**
 * Fields in which LangChain provider classes (and the SDK clients they configure) hold the
 * provider call's own credential. Left out of the key only as a top-level llmKey pair, or inside a
 * client-config object (`CLIENT_CONFIG_FIELDS`); anywhere else a field of that name is digested.
 */
export const CREDENTIAL_FIELDS: ReadonlySet<string> = new Set([
  // @langchain/openai (ChatOpenAI, OpenAI, AzureChatOpenAI, AzureOpenAI, and ChatDeepSeek, ChatXAI
  // and the community classes built on them): `clientConfig` is spread into the llmKey, so the
  // OpenAI client's own options appear as top-level pairs.
  'apiKey',
  'openAIApiKey',
  'azureOpenAIApiKey',
  'azureADTokenProvider',
  'webhookSecret',
  // @langchain/anthropic (ChatAnthropic, and its `clientOptions` for the Anthropic client).
  'anthropicApiKey',
  'authToken',
  'webhookKey',
  // @langchain/aws (ChatBedrockConverse), @langchain/community BedrockChat; AWS credential objects.
  'credentials',
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  'awsAccessKeyId',
  'awsSecretAccessKey',
  'awsSessionToken',
  'bedrockApiKey',
  'bedrockApiSecret',
  'bedrockApiSessionToken',
  'bedrockBearerToken',
  // @langchain/google-vertexai, google-common, google-gauth (and `apiKey` for google-genai).
  'authOptions',
  // @langchain/cloudflare, @langchain/baidu-qianfan, @langchain/yandex.
  'cloudflareApiToken',
  'qianfanAK',
  'qianfanSK',
  'qianfanAccessKey',
  'qianfanSecretKey',
  'accessToken',
  'iamToken',
  // @langchain/community chat models and LLMs.
  'ai21ApiKey',
  'watsonxAIApikey',
  'watsonxAIBearerToken',
  'watsonxAIPassword',
  'alibabaApiKey',
  'aleph_alpha_api_key',
  'fireworksApiKey',
  'friendliToken',
  'gradientAccessKey',
  'iflytekApiKey',
  'iflytekApiSecret',
  'layerupApiKey',
  'minimaxApiKey',
  'novitaApiKey',
  'tencentSecretId',
  'tencentSecretKey',
  'togetherAIApiKey',
  'zhipuAIApiKey',
]);

/** Objects that configure a provider's client: `configuration` (OpenAI), `clientOptions` (Anthropic), `options` (OpenAI per-call request options). */
export const CLIENT_CONFIG_FIELDS: ReadonlySet<string> = new Set([
  'configuration',
  'clientOptions',
  'clientConfig',
  'options',
]);
/** Header maps of a provider's client (top level, or in a client config): `defaultHeaders`, and `headers` (Anthropic and Ollama, OpenAI request options). */
export const CREDENTIAL_HEADER_MAPS: ReadonlySet<string> = new Set(['defaultHeaders', 'headers']);
/** The provider auth headers in those maps (compared lower-case): left out. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'ocp-apim-subscription-key',
]);
export const CREDENTIAL_QUERY_MAPS: ReadonlySet<string> = new Set(['defaultQuery', 'query']);
/** The provider key query parameters in those maps (Azure `api-key`, Google `key`): left out. */
export const CREDENTIAL_QUERY_PARAMS: ReadonlySet<string> = new Set(['api-key', 'api_key', 'key']);

/**
 * Call options that are not part of the request, left out of the key at the top level: LangChain's
 * chat and text models put `signal` back among the call options (serialized as `{}`), a `timeout`
 * arrives through the OpenAI client config or the call options, and the rest are RunnableConfig
 * fields that reach the llmKey when a model is called directly with them.
 */
export const NOT_REQUEST_OPTIONS: ReadonlySet<string> = new Set([
  'signal',
  'timeout',
  'callbacks',
  'runName',
  'runId',
  'configurable',
  'recursionLimit',
  'maxConcurrency',
  'promptIndex',
]);

/**
 * Fields whose values are the request itself: tool, function and response-format schemas, and
 * content the model reads (stop sequences, predicted output, messages, instructions). Kept
 * verbatim: `stop: ["token: "]` or a schema property named `password` is part of what is asked.
 * (One exception: an MCP server definition among the tools is client configuration; its
 * `authorization` and headers are digested.)
 */
export const REQUEST_FIELDS: ReadonlySet<string> = new Set([
  'stop',
  'stopSequences',
  'stop_sequences',
  'prediction',
  'messages',
  'prompt',
  'system',
  'instructions',
  'input',
  'examples',
  'logit_bias',
  'logitBias',
  'tools',
  'functions',
  'function',
  'tool_choice',
  'toolChoice',
  'function_call',
  'response_format',
  'responseFormat',
  'ls_structured_output_format',
  'json_schema',
  'schema',
  'parameters',
  'input_schema',
  'inputSchema',
  'output_schema',
  'text',
]);

/** Header and query-parameter maps (`defaultHeaders`, `defaultQuery`): names there follow HTTP conventions. */
export const isMapField = (name: string) => /(headers|query)$/i.test(name);

/**
 * Fields naming a model or a deployment: never a credential, and what the dashboard reads, so a
 * name that happens to look random (`Mixtral-8x7B-Instruct-v0.1`) is not digested for its looks
 * (credential shapes, `key=` pairs and the like still are).
 */
export const MODEL_FIELDS: ReadonlySet<string> = new Set([
  'model',
  'modelName',
  'model_name',
  'modelId',
  'model_id',
  'deployment',
  'deploymentName',
  'deployment_id',
  'azureOpenAIApiDeploymentName',
]);
