import { describe, expect, it } from 'vitest';
import { assertNamespace, deriveKey, hashKey, isSecretFieldName, sanitizeLlmKey } from './key.js';

// What ChatOpenAI (1.x) puts into llmKey: its identifying params, including clientConfig.
const openAiKey = (apiKey: string, extra = '') =>
  [
    `_model:"base_chat_model"`,
    `_type:"openai"`,
    `apiKey:${JSON.stringify(apiKey)}`,
    `configuration:${JSON.stringify({ baseURL: 'https://api.example.test/v1', defaultHeaders: { Authorization: `Bearer ${apiKey}`, 'X-Team': 'search' } })}`,
    `dangerouslyAllowBrowser:true`,
    `maxRetries:2`,
    `max_tokens:256`,
    `model:"gpt-4o-mini"`,
    `organization:"org-1"`,
    `temperature:0.2${extra}`,
  ].join(',');

describe('secret field names', () => {
  it.each([
    'apiKey',
    'openAIApiKey',
    'api_key',
    'x-api-key',
    'Authorization',
    'accessToken',
    'token',
    'client_secret',
    'password',
    'azureOpenAIApiKey',
    'sessionToken',
    'credentials',
    'key',
    'apiKeys',
    'bearer',
    'jwt',
    'private_key_pem',
    'accessKeyId',
    'secretAccessKey',
    'x-portkey-virtual-key',
    'x-functions-key',
    'passphrase',
  ])('%s is a secret', (name) => expect(isSecretFieldName(name)).toBe(true));
  it.each([
    'maxTokens',
    'max_tokens',
    'tokenizer',
    'model',
    'temperature',
    'keyPrefix',
    'organization',
    'stop',
    'topK',
    'credentials_region',
    'max_token',
    'cacheKey',
  ])('%s is not a secret', (name) => expect(isSecretFieldName(name)).toBe(false));
});

describe('sanitizeLlmKey', () => {
  it('removes API keys at any depth and keeps every other parameter', () => {
    const clean = sanitizeLlmKey(openAiKey('sk-proj-abcdefghijklmnopqrstuvwx0123456789'));
    expect(clean).not.toContain('sk-proj');
    expect(clean).not.toContain('Bearer');
    expect(clean).toContain('max_tokens:256');
    expect(clean).toContain('temperature:0.2');
    expect(clean).toContain('"X-Team":"search"');
    expect(clean).toContain('model:"gpt-4o-mini"');
  });

  it('gives a rotated key the same cache key, and a changed parameter a different one', () => {
    const a = deriveKey('ns', openAiKey('sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaa'), 'hi');
    const b = deriveKey('ns', openAiKey('sk-bbbbbbbbbbbbbbbbbbbbbbbbbbbb'), 'hi');
    const c = deriveKey('ns', `${openAiKey('sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaa')}5`, 'hi');
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
  });

  it('redacts a key that is not in LangChain format', () => {
    expect(sanitizeLlmKey('{"model":"m","apiKey":"sk-zzz"}')).toBe('{"model":"m"}');
    expect(sanitizeLlmKey('plain-model-name')).toBe('plain-model-name');
  });

  it('fails closed: text it cannot parse is stored only as a digest, and the key says why', () => {
    const key = deriveKey('ns', 'garbage "apiKey":"sk-zzz" {', 'p');
    expect(key.llmString).toMatch(/^unparsed-llm-key:sha256:[0-9a-f]{64}$/);
    expect(key.llmProblem).toMatch(/digest/);
    expect(deriveKey('ns', 'model:"m"', 'p').llmProblem).toBeUndefined();
    // Distinct unparsable keys stay distinct.
    expect(sanitizeLlmKey('a b')).not.toBe(sanitizeLlmKey('a  b'));
  });

  it('parses values with commas, quotes and nesting', () => {
    const key = `a:"x,y:\\"z\\"",b:{"c":[1,{"d":"e,f"}],"password":"p"},c:null`;
    // A nested `password` is no provider credential: digested, not dropped.
    expect(sanitizeLlmKey(key)).toMatch(
      /^a:"x,y:\\"z\\"",b:\{"c":\[1,\{"d":"e,f"\}\],"password":"\[secret:hmac:[0-9a-f]{32}\]"\},c:null$/,
    );
  });
});

const CANARY = 'CANARYx9f3k2m8q7w1';
const leaks = (llmKey: string) => sanitizeLlmKey(llmKey).includes(CANARY);

describe('secrets seen leaking (issue 13)', () => {
  it.each([
    [
      'a function-valued option (fetch:undefined) next to apiKey',
      `_model:"base_chat_model",_type:"openai",apiKey:"sk-proj-${CANARY}",fetch:undefined,model:"gpt-4o-mini"`,
    ],
    ['baseURL with ?key=', `baseURL:"https://gw.test/v1?key=${CANARY}&x=1",model:"m"`],
    ['baseURL with user:pass@', `baseURL:"https://user:${CANARY}@gw.test/v1",model:"m"`],
    [
      'a custom virtual-key header',
      `defaultHeaders:{"x-portkey-virtual-key":"${CANARY}","X-Team":"a"},model:"m"`,
    ],
    ['an Azure functions key header', `defaultHeaders:{"x-functions-key":"${CANARY}"},model:"m"`],
    [
      'a key inside a nested JSON string',
      `configuration:{"extra":${JSON.stringify(JSON.stringify({ apiKey: CANARY, region: 'eu' }))}},model:"m"`,
    ],
    ['a raw header line', `notes:"Authorization: Bearer ${CANARY}",model:"m"`],
    ['apiKeys', `apiKeys:["${CANARY}"],model:"m"`],
    ['bearer', `bearer:"${CANARY}",model:"m"`],
    ['key', `key:"${CANARY}",model:"m"`],
    ['jwt', `auth_config:{"jwt":"${CANARY}"},model:"m"`],
    ['private_key_pem', `private_key_pem:"${CANARY}",model:"m"`],
    ['passphrase= inside a string', `dsn:"host=db;passphrase=${CANARY};port=5"`],
    [
      'an AWS access key id with its secret',
      `credentials:{"accessKeyId":"AKIA${CANARY}","secretAccessKey":"${CANARY}"},region:"us-east-1"`,
    ],
    ['an AWS access key id alone', `aws:{"accessKeyId":"${CANARY}"},region:"us-east-1"`],
    ['a defaultQuery api-key', `defaultQuery:{"api-version":"2024-02-01","api-key":"${CANARY}"},model:"m"`],
    ['a token-shaped value under an innocent name', `extra:"sk-ant-api03-${CANARY}abcdef",model:"m"`],
    // Found by trying the packed package as a new user would:
    ['headers as a list of pairs', `defaultHeaders:[["x-api-key","${CANARY}"],["X-Team","a"]],model:"m"`],
    ...[
      'Authentication',
      'X-Authentication',
      'x-apitoken',
      'x-accesstoken',
      'X-Pass',
      'X-Pwd',
      'X-Hmac',
      'X-Client-Cred',
    ].map((h) => [`a ${h} header`, `defaultHeaders:{"${h}":"${CANARY}"},model:"m"`] as [string, string]),
    [
      'a header in modelKwargs.extra_headers',
      `modelKwargs:{"extra_headers":{"x-apitoken":"${CANARY}"}},model:"m"`,
    ],
    ['?pwd= and ?pass= in a URL', `baseURL:"https://h.test/v1?pwd=${CANARY}&pass=${CANARY}"`],
    ['defaultQuery pass', `defaultQuery:{"pass":"${CANARY}"},model:"m"`],
    ['an unencoded @ in a URL password', `baseURL:"https://user:p@ss${CANARY}@h.test/v1"`],
    [
      'percent-encoded JSON in a header value',
      `defaultHeaders:{"X-Meta":${JSON.stringify(encodeURIComponent(JSON.stringify({ password: CANARY })))}},model:"m"`,
    ],
    ['an accented secret name inside a string', `notes:"pässword=${CANARY}",model:"m"`],
  ])('%s', (_, llmKey) => {
    expect(leaks(llmKey)).toBe(false);
  });

  it('digests a query value once', () => {
    expect(sanitizeLlmKey(`baseURL:"https://h.test/v1?key=${CANARY}&x=1"`)).toMatch(
      /^baseURL:"https:\/\/h\.test\/v1\?key=\[secret:hmac:[0-9a-f]{32}\]&x=1"$/,
    );
  });

  it('keeps what is not a secret byte for byte', () => {
    const clean = sanitizeLlmKey(
      `baseURL:"https://user:${CANARY}@gw.test/v1?key=${CANARY}&api-version=2024",defaultHeaders:{"X-Team":"a"},region:"eu"`,
    );
    expect(clean).toContain('@gw.test/v1?');
    expect(clean).toContain('api-version=2024');
    expect(clean).toContain('"X-Team":"a"');
    expect(clean).toContain('region:"eu"');
  });
});

describe('stripping never merges two requests (issue 13)', () => {
  const tool = (description: string) =>
    `_model:"base_chat_model",model:"m",tools:${JSON.stringify([
      {
        type: 'function',
        function: {
          name: 'login',
          parameters: { type: 'object', properties: { password: { type: 'string', description } } },
        },
      },
    ])}`;
  it('tools that differ only in a password property description', () => {
    expect(deriveKey('n', tool('the password'), 'p').hash).not.toBe(
      deriveKey('n', tool('the PIN'), 'p').hash,
    );
    expect(sanitizeLlmKey(tool('the password'))).toContain('"password":{"type":"string"');
  });
  it('structured-output schemas {word} and {word, token, auth}', () => {
    const schema = (props: string[]) =>
      `model:"m",ls_structured_output_format:${JSON.stringify({ schema: { type: 'object', properties: Object.fromEntries(props.map((p) => [p, { type: 'string' }])) } })},response_format:${JSON.stringify({ type: 'json_schema', json_schema: { name: 'x', schema: { properties: Object.fromEntries(props.map((p) => [p, { type: 'string' }])) } } })}`;
    expect(sanitizeLlmKey(schema(['word']))).not.toBe(sanitizeLlmKey(schema(['word', 'token', 'auth'])));
  });
  it('stop sequences and predicted output are request content, never scrubbed', () => {
    for (const [x, y] of [
      ['stop:["Bearer abc"]', 'stop:["Bearer xyz"]'],
      ['stop:["key=1"]', 'stop:["key=2"]'],
      [
        'prediction:{"type":"content","content":"token: abc123456"}',
        'prediction:{"type":"content","content":"token: zzz999999"}',
      ],
    ]) {
      expect(deriveKey('n', `${x},model:"m"`, 'p').hash).not.toBe(deriveKey('n', `${y},model:"m"`, 'p').hash);
    }
  });

  it('a plain parameter named credentials_region', () => {
    expect(sanitizeLlmKey('credentials_region:"eu",model:"m"')).toBe('credentials_region:"eu",model:"m"');
    expect(deriveKey('n', 'credentials_region:"eu"', 'p').hash).not.toBe(
      deriveKey('n', 'credentials_region:"us"', 'p').hash,
    );
  });
});

describe('exact keys stay exact (issue 13)', () => {
  it('prompts cut mid-emoji (lone surrogates) get distinct keys', () => {
    expect(deriveKey('n', 'm', 'Summarize: \uD83C').hash).not.toBe(
      deriveKey('n', 'm', 'Summarize: \uD83D').hash,
    );
    expect(deriveKey('n', 'm', 'x\uDC00').hash).not.toBe(deriveKey('n', 'm', 'x\uFFFD').hash);
    expect(deriveKey('n\uD800', 'm', 'x').hash).not.toBe(deriveKey('n\uD801', 'm', 'x').hash);
    expect(deriveKey('n', 'model:"\uD800"', 'x').hash).not.toBe(deriveKey('n', 'model:"\uD801"', 'x').hash);
  });
  it('well-formed text keeps the key it always had', () => {
    expect(deriveKey('n', 'm', 'héllo 🚀').hash).toBe(hashKey('n', 'm', 'héllo 🚀'));
  });
});

describe('deriveKey', () => {
  it('separates namespace, llm string and prompt unambiguously', () => {
    expect(hashKey('ab', 'c', 'd')).not.toBe(hashKey('a', 'bc', 'd'));
    expect(hashKey('a', 'b', 'cd')).not.toBe(hashKey('a', 'bc', 'd'));
    expect(deriveKey('t1', 'm', 'p').hash).not.toBe(deriveKey('t2', 'm', 'p').hash);
    expect(deriveKey('t1', 'm', 'p').hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts any non-empty namespace up to 256 characters', () => {
    for (const ok of ['tenant-42', '用户.a@b', "'; DROP TABLE x; --", 'a:b*{c}[d]\\e\u0000f 🚀']) {
      expect(assertNamespace(ok)).toBe(ok);
    }
    for (const bad of ['', 'x'.repeat(257)]) expect(() => assertNamespace(bad)).toThrow(/namespace/);
  });
});
