/**
 * Every LangChain chat model and LLM class that installs here (the provider packages are dev
 * dependencies), each configured the way its users configure it. A test builds two instances
 * that differ in one thing (the model, the temperature, the endpoint or the region) and checks
 * that Strata never answers one with the other's words.
 *
 * Nothing here calls a network: construction does not, and the tests that call the models
 * replace only their network call (see `answering` in identity tests).
 */
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { BaseLLM } from '@langchain/core/language_models/llms';

/** One way two configurations of a class can differ. */
export type Dimension = 'model' | 'temperature' | 'endpoint' | 'region';

export interface Variant {
  model: string;
  temperature: number;
  /** A base URL (or host, or account/instance id where the class has no URL). */
  endpoint: string;
  region: string;
  /** The provider's credential (API key, token, or the secret of a key pair). */
  key: string;
}

export interface ProviderClass {
  /** `package ClassName`. */
  name: string;
  kind: 'chat' | 'llm';
  /** The dimensions this class lets a user configure (the others are not settable). */
  dimensions: readonly Dimension[];
  /** The first variant's model names and endpoint look like the provider's own. */
  base: Variant;
  make(v: Variant): Promise<BaseChatModel | BaseLLM>;
}

const FAKE_KEY = 'test-key-0123456789abcdef0123456789abcdef';
const aws = (secret: string) => ({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: secret });
const google = (secret: string) => ({
  type: 'service_account',
  project_id: 'strata-test',
  client_email: 'test@strata-test.iam.gserviceaccount.com',
  private_key: `-----BEGIN PRIVATE KEY-----\n${secret}\n-----END PRIVATE KEY-----\n`,
});

function variant(model: string, endpoint: string, region = 'us-east-1'): Variant {
  return { model, temperature: 0, endpoint, region, key: FAKE_KEY };
}

/** Loads a named export of a module only when a test asks for the class. */
async function load<T>(spec: string, name: string): Promise<new (fields: never) => T> {
  const module = (await import(spec)) as Record<string, unknown>;
  return module[name] as new (
    fields: never,
  ) => T;
}
type Model = BaseChatModel | BaseLLM;
const make =
  (spec: string, name: string, fields: (v: Variant) => Record<string, unknown>) =>
  async (v: Variant): Promise<Model> =>
    new (await load<Model>(spec, name))(fields(v) as never);

const MTE: readonly Dimension[] = ['model', 'temperature', 'endpoint'];
const MT: readonly Dimension[] = ['model', 'temperature'];

/**
 * A class configured by model and temperature, plus the credentials (and account fields) it
 * needs to construct; it has no endpoint or region option.
 */
function sampled(
  name: string,
  kind: ProviderClass['kind'],
  spec: string,
  exportName: string,
  model: string,
  fields: Record<string, unknown>,
): ProviderClass {
  return {
    name,
    kind,
    dimensions: MT,
    base: variant(model, ''),
    make: make(spec, exportName, (v) => ({
      model: v.model,
      temperature: v.temperature,
      ...Object.fromEntries(Object.entries(fields).map(([k, x]) => [k, x === FAKE_KEY ? v.key : x])),
    })),
  };
}

export const PROVIDER_CLASSES: readonly ProviderClass[] = [
  // ---- @langchain/openai
  {
    name: '@langchain/openai ChatOpenAI',
    kind: 'chat',
    dimensions: MTE,
    base: variant('gpt-4o-mini', 'https://api.openai.com/v1'),
    make: make('@langchain/openai', 'ChatOpenAI', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      configuration: { baseURL: v.endpoint },
    })),
  },
  {
    name: '@langchain/openai ChatOpenAI (Responses API)',
    kind: 'chat',
    dimensions: MTE,
    base: variant('gpt-4.1-mini', 'https://api.openai.com/v1'),
    make: make('@langchain/openai', 'ChatOpenAI', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      useResponsesApi: true,
      configuration: { baseURL: v.endpoint },
    })),
  },
  {
    name: '@langchain/openai AzureChatOpenAI',
    kind: 'chat',
    dimensions: MTE,
    base: variant('gpt-4o', 'https://contoso.openai.azure.com/'),
    make: make('@langchain/openai', 'AzureChatOpenAI', (v) => ({
      model: v.model,
      azureOpenAIApiDeploymentName: v.model,
      temperature: v.temperature,
      azureOpenAIApiKey: v.key,
      azureOpenAIEndpoint: v.endpoint,
      azureOpenAIApiVersion: '2024-10-21',
    })),
  },
  {
    name: '@langchain/openai OpenAI',
    kind: 'llm',
    dimensions: MTE,
    base: variant('gpt-3.5-turbo-instruct', 'https://api.openai.com/v1'),
    make: make('@langchain/openai', 'OpenAI', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      configuration: { baseURL: v.endpoint },
    })),
  },
  {
    name: '@langchain/openai AzureOpenAI',
    kind: 'llm',
    dimensions: MTE,
    base: variant('gpt-35-turbo-instruct', 'https://contoso.openai.azure.com/'),
    make: make('@langchain/openai', 'AzureOpenAI', (v) => ({
      model: v.model,
      azureOpenAIApiDeploymentName: v.model,
      temperature: v.temperature,
      azureOpenAIApiKey: v.key,
      azureOpenAIEndpoint: v.endpoint,
      azureOpenAIApiVersion: '2024-10-21',
    })),
  },
  // ---- @langchain/anthropic
  {
    name: '@langchain/anthropic ChatAnthropic',
    kind: 'chat',
    dimensions: MTE,
    base: variant('claude-3-5-haiku-latest', 'https://api.anthropic.com'),
    make: make('@langchain/anthropic', 'ChatAnthropic', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      clientOptions: { baseURL: v.endpoint },
    })),
  },
  // ---- @langchain/aws
  {
    name: '@langchain/aws ChatBedrockConverse',
    kind: 'chat',
    dimensions: ['model', 'temperature', 'endpoint', 'region'],
    base: variant(
      'anthropic.claude-3-haiku-20240307-v1:0',
      'https://bedrock-runtime.us-east-1.amazonaws.com',
    ),
    make: make('@langchain/aws', 'ChatBedrockConverse', (v) => ({
      model: v.model,
      temperature: v.temperature,
      region: v.region,
      endpointHost: v.endpoint,
      credentials: aws(v.key),
    })),
  },
  // ---- Google
  {
    name: '@langchain/google-genai ChatGoogleGenerativeAI',
    kind: 'chat',
    dimensions: MTE,
    base: variant('gemini-2.0-flash', 'https://generativelanguage.googleapis.com'),
    make: make('@langchain/google-genai', 'ChatGoogleGenerativeAI', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      baseUrl: v.endpoint,
    })),
  },
  {
    name: '@langchain/google-vertexai ChatVertexAI',
    kind: 'chat',
    dimensions: ['model', 'temperature', 'endpoint', 'region'],
    base: variant('gemini-2.0-flash', 'us-central1-aiplatform.googleapis.com', 'us-central1'),
    make: make('@langchain/google-vertexai', 'ChatVertexAI', (v) => ({
      model: v.model,
      temperature: v.temperature,
      location: v.region,
      endpoint: v.endpoint,
      authOptions: { credentials: google(v.key), projectId: 'strata-test' },
    })),
  },
  {
    name: '@langchain/google-vertexai VertexAI',
    kind: 'llm',
    dimensions: ['model', 'temperature', 'endpoint', 'region'],
    base: variant('gemini-2.0-flash', 'us-central1-aiplatform.googleapis.com', 'us-central1'),
    make: make('@langchain/google-vertexai', 'VertexAI', (v) => ({
      model: v.model,
      temperature: v.temperature,
      location: v.region,
      endpoint: v.endpoint,
      authOptions: { credentials: google(v.key), projectId: 'strata-test' },
    })),
  },
  {
    name: '@langchain/google-gauth ChatGoogle',
    kind: 'chat',
    dimensions: ['model', 'temperature', 'endpoint', 'region'],
    base: variant('gemini-2.0-flash', 'us-central1-aiplatform.googleapis.com', 'us-central1'),
    make: make('@langchain/google-gauth', 'ChatGoogle', (v) => ({
      model: v.model,
      temperature: v.temperature,
      location: v.region,
      endpoint: v.endpoint,
      authOptions: { credentials: google(v.key), projectId: 'strata-test' },
    })),
  },
  {
    name: '@langchain/google-gauth GoogleLLM',
    kind: 'llm',
    dimensions: ['model', 'temperature', 'endpoint', 'region'],
    base: variant('gemini-2.0-flash', 'us-central1-aiplatform.googleapis.com', 'us-central1'),
    make: make('@langchain/google-gauth', 'GoogleLLM', (v) => ({
      model: v.model,
      temperature: v.temperature,
      location: v.region,
      endpoint: v.endpoint,
      authOptions: { credentials: google(v.key), projectId: 'strata-test' },
    })),
  },
  // ---- single-class packages
  {
    name: '@langchain/groq ChatGroq',
    kind: 'chat',
    dimensions: MTE,
    base: variant('llama-3.1-8b-instant', 'https://api.groq.com'),
    make: make('@langchain/groq', 'ChatGroq', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      baseUrl: v.endpoint,
    })),
  },
  {
    name: '@langchain/mistralai ChatMistralAI',
    kind: 'chat',
    dimensions: MTE,
    base: variant('mistral-small-latest', 'https://api.mistral.ai'),
    make: make('@langchain/mistralai', 'ChatMistralAI', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      serverURL: v.endpoint,
    })),
  },
  {
    name: '@langchain/ollama ChatOllama',
    kind: 'chat',
    dimensions: MTE,
    base: variant('llama3.2', 'http://ollama.internal:11434'),
    make: make('@langchain/ollama', 'ChatOllama', (v) => ({
      model: v.model,
      temperature: v.temperature,
      baseUrl: v.endpoint,
    })),
  },
  {
    name: '@langchain/ollama Ollama',
    kind: 'llm',
    dimensions: MTE,
    base: variant('llama3.2', 'http://ollama.internal:11434'),
    make: make('@langchain/ollama', 'Ollama', (v) => ({
      model: v.model,
      temperature: v.temperature,
      baseUrl: v.endpoint,
    })),
  },
  sampled('@langchain/cohere ChatCohere', 'chat', '@langchain/cohere', 'ChatCohere', 'command-r-plus', {
    apiKey: FAKE_KEY,
  }),
  sampled('@langchain/cohere Cohere', 'llm', '@langchain/cohere', 'Cohere', 'command', { apiKey: FAKE_KEY }),
  sampled('@langchain/cerebras ChatCerebras', 'chat', '@langchain/cerebras', 'ChatCerebras', 'llama3.1-8b', {
    apiKey: FAKE_KEY,
  }),
  {
    name: '@langchain/deepseek ChatDeepSeek',
    kind: 'chat',
    dimensions: MTE,
    base: variant('deepseek-chat', 'https://api.deepseek.com'),
    make: make('@langchain/deepseek', 'ChatDeepSeek', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      configuration: { baseURL: v.endpoint },
    })),
  },
  {
    name: '@langchain/xai ChatXAI',
    kind: 'chat',
    dimensions: MTE,
    base: variant('grok-3-mini', 'https://api.x.ai/v1'),
    make: make('@langchain/xai', 'ChatXAI', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      baseURL: v.endpoint,
    })),
  },
  {
    name: '@langchain/xai ChatXAIResponses',
    kind: 'chat',
    dimensions: MTE,
    base: variant('grok-3-mini', 'https://api.x.ai/v1'),
    make: make('@langchain/xai', 'ChatXAIResponses', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      baseURL: v.endpoint,
    })),
  },
  {
    name: '@langchain/openrouter ChatOpenRouter',
    kind: 'chat',
    dimensions: MTE,
    base: variant('meta-llama/llama-3.1-8b-instruct', 'https://openrouter.ai/api/v1'),
    make: make('@langchain/openrouter', 'ChatOpenRouter', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      baseURL: v.endpoint,
    })),
  },
  {
    name: '@langchain/cloudflare ChatCloudflareWorkersAI',
    kind: 'chat',
    dimensions: ['model', 'endpoint'],
    base: variant('@cf/meta/llama-3.1-8b-instruct', 'https://api.cloudflare.com/client/v4'),
    make: make('@langchain/cloudflare', 'ChatCloudflareWorkersAI', (v) => ({
      model: v.model,
      cloudflareAccountId: 'acct0123',
      cloudflareApiToken: v.key,
      baseUrl: v.endpoint,
    })),
  },
  {
    name: '@langchain/cloudflare CloudflareWorkersAI',
    kind: 'llm',
    dimensions: ['model', 'endpoint'],
    base: variant('@cf/meta/llama-3.1-8b-instruct', 'https://api.cloudflare.com/client/v4'),
    make: make('@langchain/cloudflare', 'CloudflareWorkersAI', (v) => ({
      model: v.model,
      cloudflareAccountId: 'acct0123',
      cloudflareApiToken: v.key,
      baseUrl: v.endpoint,
    })),
  },
  sampled(
    '@langchain/baidu-qianfan ChatBaiduQianfan',
    'chat',
    '@langchain/baidu-qianfan',
    'ChatBaiduQianfan',
    'ERNIE-Lite-8K',
    { qianfanAccessKey: 'ak0123456789', qianfanSecretKey: 'sk0123456789' },
  ),
  sampled('@langchain/yandex ChatYandexGPT', 'chat', '@langchain/yandex', 'ChatYandexGPT', 'yandexgpt-lite', {
    apiKey: FAKE_KEY,
    folderID: 'b1gfolder',
  }),
  sampled('@langchain/yandex YandexGPT', 'llm', '@langchain/yandex', 'YandexGPT', 'yandexgpt-lite', {
    apiKey: FAKE_KEY,
    folderID: 'b1gfolder',
  }),
  // ---- @langchain/community chat models
  {
    name: '@langchain/community BedrockChat',
    kind: 'chat',
    dimensions: ['model', 'temperature', 'endpoint', 'region'],
    base: variant('anthropic.claude-3-haiku-20240307-v1:0', 'bedrock-runtime.us-east-1.amazonaws.com'),
    make: make('@langchain/community/chat_models/bedrock', 'BedrockChat', (v) => ({
      model: v.model,
      temperature: v.temperature,
      region: v.region,
      endpointHost: v.endpoint,
      credentials: aws(v.key),
    })),
  },
  sampled(
    '@langchain/community ChatAlibabaTongyi',
    'chat',
    '@langchain/community/chat_models/alibaba_tongyi',
    'ChatAlibabaTongyi',
    'qwen-turbo',
    { alibabaApiKey: FAKE_KEY },
  ),
  sampled(
    '@langchain/community ChatDeepInfra',
    'chat',
    '@langchain/community/chat_models/deepinfra',
    'ChatDeepInfra',
    'meta-llama/Meta-Llama-3-70B-Instruct',
    { apiKey: FAKE_KEY },
  ),
  sampled(
    '@langchain/community ChatFireworks',
    'chat',
    '@langchain/community/chat_models/fireworks',
    'ChatFireworks',
    'accounts/fireworks/models/llama-v3p1-8b-instruct',
    { apiKey: FAKE_KEY },
  ),
  sampled(
    '@langchain/community ChatFriendli',
    'chat',
    '@langchain/community/chat_models/friendli',
    'ChatFriendli',
    'meta-llama-3.1-8b-instruct',
    { friendliToken: FAKE_KEY },
  ),
  {
    name: '@langchain/community ChatIflytekXinghuo',
    kind: 'chat',
    dimensions: ['temperature'],
    base: variant('v3.5', ''),
    make: make('@langchain/community/chat_models/iflytek_xinghuo', 'ChatIflytekXinghuo', (v) => ({
      temperature: v.temperature,
      iflytekAppid: 'app0123',
      iflytekApiKey: v.key,
      iflytekApiSecret: v.key,
    })),
  },
  sampled(
    '@langchain/community ChatMinimax',
    'chat',
    '@langchain/community/chat_models/minimax',
    'ChatMinimax',
    'abab5.5-chat',
    { minimaxGroupId: 'group0123', minimaxApiKey: FAKE_KEY },
  ),
  sampled(
    '@langchain/community ChatMoonshot',
    'chat',
    '@langchain/community/chat_models/moonshot',
    'ChatMoonshot',
    'moonshot-v1-8k',
    { apiKey: FAKE_KEY },
  ),
  sampled(
    '@langchain/community ChatNovitaAI',
    'chat',
    '@langchain/community/chat_models/novita',
    'ChatNovitaAI',
    'meta-llama/llama-3.1-8b-instruct',
    { apiKey: FAKE_KEY },
  ),
  sampled(
    '@langchain/community ChatPerplexity',
    'chat',
    '@langchain/community/chat_models/perplexity',
    'ChatPerplexity',
    'sonar',
    { apiKey: FAKE_KEY },
  ),
  sampled(
    '@langchain/community ChatPrem',
    'chat',
    '@langchain/community/chat_models/premai',
    'ChatPrem',
    'gpt-4o-mini',
    { apiKey: FAKE_KEY, project_id: 123 },
  ),
  sampled(
    '@langchain/community ChatTencentHunyuan',
    'chat',
    '@langchain/community/chat_models/tencent_hunyuan',
    'ChatTencentHunyuan',
    'hunyuan-pro',
    {
      tencentSecretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPx3example',
      tencentSecretKey: 'Gu5t9xGARNpq86cd98joQYCN3example',
    },
  ),
  sampled(
    '@langchain/community ChatTogetherAI',
    'chat',
    '@langchain/community/chat_models/togetherai',
    'ChatTogetherAI',
    'meta-llama/Llama-3.3-70B-Instruct-Turbo',
    { apiKey: FAKE_KEY },
  ),
  {
    name: '@langchain/community ChatWatsonx',
    kind: 'chat',
    dimensions: MTE,
    base: variant('ibm/granite-3-8b-instruct', 'https://us-south.ml.cloud.ibm.com'),
    make: make('@langchain/community/chat_models/ibm', 'ChatWatsonx', (v) => ({
      model: v.model,
      temperature: v.temperature,
      serviceUrl: v.endpoint,
      version: '2024-05-31',
      projectId: 'project0123',
      watsonxAIAuthType: 'iam',
      watsonxAIApikey: v.key,
    })),
  },
  sampled(
    '@langchain/community ChatZhipuAI',
    'chat',
    '@langchain/community/chat_models/zhipuai',
    'ChatZhipuAI',
    'glm-4',
    { zhipuAIApiKey: 'abc.def0123456789' },
  ),
  {
    name: '@langchain/community PortkeyChat',
    kind: 'chat',
    dimensions: ['model', 'endpoint'],
    base: variant('gpt-4o-mini', 'https://api.portkey.ai/v1'),
    make: make('@langchain/community/chat_models/portkey', 'PortkeyChat', (v) => ({
      apiKey: v.key,
      baseURL: v.endpoint,
      llms: [{ provider: 'openai', virtual_key: 'vk-0123', model: v.model }],
    })),
  },
  // ---- @langchain/community LLMs
  {
    name: '@langchain/community Bedrock',
    kind: 'llm',
    dimensions: ['model', 'temperature', 'endpoint', 'region'],
    base: variant('amazon.titan-text-express-v1', 'bedrock-runtime.us-east-1.amazonaws.com'),
    make: make('@langchain/community/llms/bedrock', 'Bedrock', (v) => ({
      model: v.model,
      temperature: v.temperature,
      region: v.region,
      endpointHost: v.endpoint,
      credentials: aws(v.key),
    })),
  },
  sampled('@langchain/community AI21', 'llm', '@langchain/community/llms/ai21', 'AI21', 'j2-jumbo-instruct', {
    ai21ApiKey: FAKE_KEY,
  }),
  {
    name: '@langchain/community AlephAlpha',
    kind: 'llm',
    dimensions: MTE,
    base: variant('luminous-base', 'https://api.aleph-alpha.com/complete'),
    make: make('@langchain/community/llms/aleph_alpha', 'AlephAlpha', (v) => ({
      model: v.model,
      temperature: v.temperature,
      aleph_alpha_api_key: v.key,
      base_url: v.endpoint,
    })),
  },
  sampled(
    '@langchain/community DeepInfraLLM',
    'llm',
    '@langchain/community/llms/deepinfra',
    'DeepInfraLLM',
    'mistralai/Mixtral-8x22B-Instruct-v0.1',
    { apiKey: FAKE_KEY },
  ),
  sampled(
    '@langchain/community Fireworks',
    'llm',
    '@langchain/community/llms/fireworks',
    'Fireworks',
    'accounts/fireworks/models/llama-v3p1-8b-instruct',
    { fireworksApiKey: FAKE_KEY },
  ),
  sampled(
    '@langchain/community Friendli',
    'llm',
    '@langchain/community/llms/friendli',
    'Friendli',
    'meta-llama-3.1-8b-instruct',
    { friendliToken: FAKE_KEY },
  ),
  {
    name: '@langchain/community HuggingFaceInference',
    kind: 'llm',
    dimensions: MTE,
    base: variant('gpt2', 'https://api-inference.huggingface.co'),
    make: make('@langchain/community/llms/hf', 'HuggingFaceInference', (v) => ({
      model: v.model,
      temperature: v.temperature,
      apiKey: v.key,
      endpointUrl: v.endpoint,
    })),
  },
  {
    name: '@langchain/community PortkeyLLM',
    kind: 'llm',
    dimensions: ['model', 'endpoint'],
    base: variant('gpt-3.5-turbo-instruct', 'https://api.portkey.ai/v1'),
    make: make('@langchain/community/llms/portkey', 'Portkey', (v) => ({
      apiKey: v.key,
      baseURL: v.endpoint,
      llms: [{ provider: 'openai', virtual_key: 'vk-0123', model: v.model }],
    })),
  },
  {
    name: '@langchain/community Replicate',
    kind: 'llm',
    dimensions: ['model'],
    base: variant(
      'meta/llama-2-70b-chat:02e509c789964a7ea8736978a43525956ef40397be9033abf9fd2badfe68c9e3',
      '',
    ),
    make: make('@langchain/community/llms/replicate', 'Replicate', (v) => ({
      model: v.model as `${string}/${string}:${string}`,
      apiKey: v.key,
      input: { temperature: 0.5 },
    })),
  },
  {
    name: '@langchain/community SageMakerEndpoint',
    kind: 'llm',
    dimensions: ['model', 'region'],
    base: variant('jumpstart-llama-endpoint', '', 'us-west-2'),
    make: make('@langchain/community/llms/sagemaker_endpoint', 'SageMakerEndpoint', (v) => ({
      endpointName: v.model,
      contentHandler: {
        contentType: 'application/json',
        accepts: 'application/json',
        transformInput: async (prompt: string) => new TextEncoder().encode(JSON.stringify({ prompt })),
        transformOutput: async (output: Uint8Array) => JSON.parse(new TextDecoder().decode(output)).text,
      },
      clientOptions: { region: v.region, credentials: aws(v.key) },
    })),
  },
  sampled(
    '@langchain/community TogetherAI',
    'llm',
    '@langchain/community/llms/togetherai',
    'TogetherAI',
    'meta-llama/Llama-3.3-70B-Instruct-Turbo',
    { apiKey: FAKE_KEY },
  ),
  {
    name: '@langchain/community WatsonxLLM',
    kind: 'llm',
    dimensions: MTE,
    base: variant('ibm/granite-13b-instruct-v2', 'https://us-south.ml.cloud.ibm.com'),
    make: make('@langchain/community/llms/ibm', 'WatsonxLLM', (v) => ({
      model: v.model,
      temperature: v.temperature,
      serviceUrl: v.endpoint,
      version: '2024-05-31',
      projectId: 'project0123',
      watsonxAIAuthType: 'iam',
      watsonxAIApikey: v.key,
    })),
  },
  sampled(
    '@langchain/community Writer',
    'llm',
    '@langchain/community/llms/writer',
    'Writer',
    'palmyra-instruct',
    { apiKey: FAKE_KEY, orgId: 123 },
  ),
];

/** The same configuration with a rotated credential. */
export function rotated(base: Variant): Variant {
  return { ...base, key: `${base.key.slice(0, -8)}ROTATED0` };
}

/** The variant that differs from `base` in one dimension. */
export function changed(base: Variant, dimension: Dimension): Variant {
  switch (dimension) {
    case 'model':
      return { ...base, model: `${base.model}-other` };
    case 'temperature':
      return { ...base, temperature: 0.9 };
    case 'endpoint':
      return {
        ...base,
        endpoint: base.endpoint.includes('//') ? base.endpoint.replace('//', '//eu.') : `eu.${base.endpoint}`,
      };
    case 'region':
      return { ...base, region: base.region === 'us-east-1' ? 'eu-west-1' : 'europe-west4' };
  }
}
