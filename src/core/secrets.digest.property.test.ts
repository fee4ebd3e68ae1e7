/**
 * "Replace, never delete on a guess" (issue 26), by property tests over llmKeys serialized by
 * LangChain's own code:
 * (a) two requests that differ anywhere outside a provider's own credential never share a key:
 *     nested objects, header and query maps, URLs, JSON Schemas with secret-named properties,
 *     content with secret-looking text, JSON nested in strings, one random change anywhere;
 * (b) a generated secret, high-entropy or a 4-digit PIN, in any position (credential fields,
 *     header and query names of every family, URL user info and paths, `name: value` pairs in
 *     content, JSON nested in strings, percent-encoded JSON) never reaches the stored llm string,
 *     nor its base64, hex or percent-encoded forms;
 * (c) rotating a provider credential keeps the key;
 * and sanitizing what was stored gives it back unchanged (imports check stored llm strings so).
 */
import { FakeListChatModel } from '@langchain/core/utils/testing';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { propertyRuns } from '../../test/support/property-runs.js';
import { deriveKey, sanitizeLlmKey } from './key.js';
import {
  CREDENTIAL_FIELDS,
  CREDENTIAL_HEADERS,
  CREDENTIAL_QUERY_PARAMS,
  NOT_REQUEST_OPTIONS,
  setDigestKey,
} from './secrets.js';

beforeAll(() => setDigestKey('property-test-digest-key-0123456789abcdef'));

const model = new FakeListChatModel({ responses: ['x'] });
const llmKeyOf = (params: Record<string, unknown>): string =>
  (
    model as unknown as { _getSerializedCacheKeyParametersForCall(o: object): string }
  )._getSerializedCacheKeyParametersForCall(params);
const keyOf = (params: Record<string, unknown>) => deriveKey('ns', llmKeyOf(params), 'the prompt');
const MARKERS = /\[secret:(?:hmac|sha256):[0-9a-f]{32}\]/g;

// ---------------------------------------------------------------------------------------------
// Requests: what a model's serialized parameters look like, secret-looking parts included
// ---------------------------------------------------------------------------------------------

/** Pieces of text that trip every detector: content made of them is full of secret-looking substrings. */
const FRAGMENTS = [
  'token: ',
  'password=',
  '"password":"',
  'Bearer ',
  'Basic ',
  'sk-proj-',
  'AKIA',
  'eyJhbGciOi.',
  'https://',
  'user:pw@',
  '/key/',
  '/hooks/',
  '/services/T01/B02/',
  'bot123456:',
  '?key=',
  '&psk=',
  ';pwd=',
  'X-OTP: ',
  'pin=',
  '{"a":',
  '%7B%22',
  '-----BEGIN PRIVATE KEY-----',
  ' ',
  '\n',
  ',',
  '"',
  'é',
  '问',
  '🚀',
];
const text = fc
  .array(
    fc.oneof(
      fc.constantFrom(...FRAGMENTS),
      fc.stringMatching(/^[A-Za-z0-9]{1,30}$/),
      fc.string({ maxLength: 6 }),
      fc.string({ unit: 'binary', maxLength: 3 }),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''));

const SECRET_NAMES = [
  'password',
  'token',
  'secret',
  'key',
  'apiKey',
  'pass',
  'pin',
  'ak',
  'sk',
  'client_cert_key',
  'otp',
  'github_pat',
];
const PLAIN_NAMES = ['region', 'mode', 'topK', 'maxTokens', 'keepAlive', 'passages', 'name', 'note', 'items'];
const HEADER_NAMES = [
  'X-Team',
  'X-Passcode',
  'X-Upstream-PAT',
  'x-ai-gateway-psk',
  'X-OTP',
  'x-portkey-virtual-key',
  'x-functions-key',
  'Cookie',
  'Content-Type',
  'User-Agent',
  'Authorization',
  'x-api-key',
];
const QUERY_NAMES = ['psk', 'pat', 'sig', 'api-version', 'v', 'key', 'api-key', 'token'];

const url = fc
  .record({
    userinfo: fc.option(text, { nil: undefined }),
    host: fc.constantFrom('gw.example.test', 'hooks.example.com', 'api.telegram.org', '10.0.0.1:8080'),
    path: fc.array(fc.oneof(fc.constantFrom('v1', 'key', 'hooks', 'services', 'T01', 'B02'), text), {
      maxLength: 4,
    }),
    query: fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), text), { maxLength: 3 }),
  })
  .map(
    ({ userinfo, host, path, query }) =>
      `https://${userinfo === undefined ? '' : `${userinfo}@`}${host}/${path.join('/')}${
        query.length ? `?${query.map(([n, v]) => `${n}=${v}`).join('&')}` : ''
      }`,
  );

/** A JSON Schema with secret-named properties (a form with a password field). */
const schema = fc
  .record({
    props: fc.uniqueArray(fc.constantFrom(...SECRET_NAMES, ...PLAIN_NAMES), { maxLength: 4 }),
    descriptions: fc.array(text, { minLength: 4, maxLength: 4 }),
    dollar: fc.boolean(),
  })
  .map(({ props, descriptions, dollar }) => ({
    ...(dollar ? { $schema: 'https://json-schema.org/draft/2020-12/schema' } : {}),
    type: 'object',
    properties: Object.fromEntries(
      props.map((p, i) => [p, { type: 'string', description: descriptions[i]! }]),
    ),
    required: props,
  }));

const headers = fc.dictionary(fc.constantFrom(...HEADER_NAMES), fc.oneof(text, url), { maxKeys: 4 });
const query = fc.dictionary(fc.constantFrom(...QUERY_NAMES), text, { maxKeys: 3 });

const leaf = fc.oneof(
  text,
  url,
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    schema,
    headers,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom(...SECRET_NAMES, ...PLAIN_NAMES, 'extra_headers', 'guided_json'),
      tie('value'),
      {
        maxKeys: 3,
      },
    ),
    tie('value').map((v) => JSON.stringify(v) ?? 'null'),
    tie('value').map((v) => encodeURIComponent(JSON.stringify(v) ?? 'null')),
  ),
})).value;

/** Top-level fields: credentials, client configs, header/query maps, schemas, content, anything. */
const request = fc.record(
  {
    model: fc.constantFrom('gpt-4o-mini', 'Mixtral-8x7B-Instruct-v0.1', 'claude-3-5-haiku-latest'),
    apiKey: text,
    configuration: fc.record(
      {
        apiKey: text,
        baseURL: url,
        organization: text,
        defaultHeaders: headers,
        defaultQuery: query,
        extra: value,
      },
      { requiredKeys: [] },
    ),
    defaultHeaders: headers,
    defaultQuery: query,
    baseURL: url,
    credentials: fc.record({ accessKeyId: text, secretAccessKey: text, sessionToken: text }),
    responseSchema: schema,
    format: schema,
    extra_body: fc.record({ guided_json: schema, response_mime_type: fc.constant('application/json') }),
    modelKwargs: fc.dictionary(fc.constantFrom(...SECRET_NAMES, ...PLAIN_NAMES, 'extra_body'), value, {
      maxKeys: 3,
    }),
    preamble: text,
    systemMessage: text,
    password: value,
    token: value,
    tools: fc.array(
      fc.record({ type: fc.constant('function'), function: fc.record({ parameters: schema }) }),
      {
        maxLength: 2,
      },
    ),
    misc: value,
  },
  { requiredKeys: ['model'] },
);

// ---------------------------------------------------------------------------------------------
// One change anywhere but in a provider credential
// ---------------------------------------------------------------------------------------------

type Path = Array<string | number>;
const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const CLIENT_CONFIGS = new Set(['configuration', 'clientOptions', 'clientConfig', 'options']);
const HEADER_MAPS = new Set(['defaultHeaders', 'headers']);
const QUERY_MAPS = new Set(['defaultQuery', 'query']);

/**
 * Every path a change may be made at: all of the request but the provider credentials (the
 * CREDENTIAL_FIELDS at the top level or in a client config, the standard auth headers and key
 * parameters of the provider's own header and query maps) and the call options that are not
 * the request.
 */
function changeablePaths(params: Record<string, unknown>): Path[] {
  const paths: Path[] = [];
  const walk = (v: unknown, path: Path, left: (name: string) => boolean) => {
    paths.push(path);
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, [...path, i], () => false);
    } else if (isObject(v)) {
      for (const [name, inner] of Object.entries(v)) {
        if (!left(name)) walk(inner, [...path, name], () => false);
      }
    }
  };
  for (const [name, v] of Object.entries(params)) {
    if (CREDENTIAL_FIELDS.has(name) || NOT_REQUEST_OPTIONS.has(name)) continue;
    if (CLIENT_CONFIGS.has(name) && isObject(v)) {
      paths.push([name]);
      for (const [inner, w] of Object.entries(v)) {
        if (CREDENTIAL_FIELDS.has(inner)) continue;
        if (HEADER_MAPS.has(inner)) walk(w, [name, inner], (h) => CREDENTIAL_HEADERS.has(h.toLowerCase()));
        else if (QUERY_MAPS.has(inner))
          walk(w, [name, inner], (q) => CREDENTIAL_QUERY_PARAMS.has(q.toLowerCase()));
        else walk(w, [name, inner], () => false);
      }
    } else if (HEADER_MAPS.has(name)) walk(v, [name], (h) => CREDENTIAL_HEADERS.has(h.toLowerCase()));
    else if (QUERY_MAPS.has(name)) walk(v, [name], (q) => CREDENTIAL_QUERY_PARAMS.has(q.toLowerCase()));
    else walk(v, [name], () => false);
  }
  return paths;
}

/** `params` with one change at `path`: a character inserted or replaced, a number moved, a flag flipped, a field added. */
function changed(
  params: Record<string, unknown>,
  path: Path,
  how: number,
  char: string,
): Record<string, unknown> {
  type Node = Record<string | number, unknown>;
  const copy = structuredClone(params);
  const parent = path.slice(0, -1).reduce<unknown>((o, p) => (o as Node)[p], copy) as Node;
  const last = path[path.length - 1]!;
  const v = parent[last];
  if (typeof v === 'string') {
    const at = how % (v.length + 1);
    const replace = how % 2 === 1 && at < v.length;
    parent[last] = v.slice(0, at) + char + v.slice(replace ? at + 1 : at);
  } else if (typeof v === 'number') parent[last] = v + 1;
  else if (typeof v === 'boolean') parent[last] = !v;
  else if (v === null) parent[last] = 0;
  else if (Array.isArray(v)) v.push(char);
  else (v as Node)[`added_${how % 7}`] = char;
  return copy;
}

describe('replace, never delete on a guess (issue 26)', () => {
  it('(a) two requests that differ anywhere outside a provider credential never share a key', () => {
    fc.assert(
      fc.property(
        request,
        fc.nat(),
        fc.nat(),
        fc.constantFrom('x', '7', ' ', '=', ':', '@', '/', '"', 'é', '🚀'),
        (params, pick, how, char) => {
          const paths = changeablePaths(params);
          const other = changed(params, paths[pick % paths.length]!, how, char);
          fc.pre(llmKeyOf(other) !== llmKeyOf(params));
          expect(keyOf(other).hash).not.toBe(keyOf(params).hash);
        },
      ),
      { numRuns: propertyRuns(3000) },
    );
  });

  it('a stored llm string sanitizes to itself', () => {
    fc.assert(
      fc.property(request, (params) => {
        const stored = keyOf(params).llmString;
        expect(sanitizeLlmKey(stored)).toBe(stored);
      }),
      { numRuns: propertyRuns(2000) },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Secrets in every position
// ---------------------------------------------------------------------------------------------

/** A random key: base-62, 24-40 characters, digits and both cases (what every detector must catch). */
const highEntropy = fc
  .stringMatching(/^[A-Za-z0-9]{24,40}$/)
  .filter((s) => (s.match(/\d/g) ?? []).length >= 3 && /[a-z].*[a-z]/.test(s) && /[A-Z].*[A-Z]/.test(s))
  .filter((s) => {
    const kind = (c: string) => (/\d/.test(c) ? 0 : /[a-z]/.test(c) ? 1 : 2);
    let changes = 0;
    for (let i = 1; i < s.length; i++) if (kind(s[i]!) !== kind(s[i - 1]!)) changes++;
    return changes / (s.length - 1) >= 0.4;
  });
/** A guessable secret: a 4-digit PIN, or a word and digits ("alpha123"). */
const lowEntropy = fc.oneof(
  fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
  fc
    .tuple(fc.constantFrom('alpha', 'beta', 'hunter', 'letmein', 'qwerty'), fc.integer({ min: 10, max: 999 }))
    .map(([w, n]) => `${w}${n}`),
);

const FAMILY_HEADERS = [
  'X-Passcode',
  'X-Upstream-PAT',
  'x-ai-gateway-psk',
  'X-OTP',
  'x-portkey-virtual-key',
  'x-functions-key',
  'X-Pwd',
  'X-Pin',
  'Cookie',
  'X-Auth-Token',
];
const FAMILY_FIELDS = [
  'password',
  'pass',
  'pwd',
  'pin',
  'passcode',
  'ak',
  'sk',
  'client_cert_key',
  'github_pat',
  'otp',
  'psk',
  'token',
];
const FAMILY_QUERY = ['psk', 'pat', 'key', 'token', 'sig', 'pwd', 'pass', 'otp', 'pin'];

/** Where a guessable secret is only recognizable by its name: under a secret name of every family. */
const namedPlacements = (s: string, i: number): Array<Record<string, unknown>> => {
  const header = FAMILY_HEADERS[i % FAMILY_HEADERS.length]!;
  const field = FAMILY_FIELDS[i % FAMILY_FIELDS.length]!;
  const param = FAMILY_QUERY[i % FAMILY_QUERY.length]!;
  return [
    { apiKey: s },
    { [[...CREDENTIAL_FIELDS][i % CREDENTIAL_FIELDS.size]!]: s },
    { configuration: { apiKey: s, defaultHeaders: { Authorization: `Bearer ${s}` } } },
    { credentials: { accessKeyId: s, secretAccessKey: s, sessionToken: s } },
    { defaultHeaders: { [header]: s, 'X-Team': 'search' } },
    { configuration: { defaultHeaders: { [header]: s } } },
    { modelKwargs: { extra_headers: { [header]: s } } },
    { defaultHeaders: [[header, s]] },
    { defaultQuery: { [param]: s } },
    { modelKwargs: { [field]: s } },
    { modelKwargs: { extra_body: { auth: { [field]: s } } } },
    { [field]: s },
    { baseURL: `https://gw.example.test/v1?${param}=${s}&api-version=preview` },
    { baseURL: `https://svc:${s}@gw.example.test/v1` },
    { baseURL: `https://gw.example.test/key/${s}/v1` },
    { baseURL: `https://gw.example.test/token/${s}` },
    { baseURL: `https://hooks.example.com/services/T01ABC/B02DEF/${s}` },
    { baseURL: `https://hooks.example.com/hooks/catch/${s}/` },
    { preamble: `You help with billing. ${field}: ${s}. Be brief.` },
    { preamble: `Connect with ${field}=${s};host=db` },
    { systemMessage: `{"${field}":"${s}","region":"eu"} is the config` },
    { preamble: `${header}: ${s}` },
    { notes: `Authorization: Bearer ${s}` },
    { extra: JSON.stringify({ credentials: { user: 'bob', [field]: s }, region: 'eu' }) },
    { extra: JSON.stringify({ [field]: s }, null, 2) },
    { defaultHeaders: { 'X-Meta': encodeURIComponent(JSON.stringify({ [field]: s, team: 'a' })) } },
    { modelKwargs: { extra_body: JSON.stringify({ nested: JSON.stringify({ [field]: s }) }) } },
  ];
};
/** Where only a random-looking key can be recognized: by its shape alone. */
const shapedPlacements = (s: string): Array<Record<string, unknown>> => [
  { baseURL: `https://gw.example.test/v1/${s}/chat` },
  { baseURL: `https://api.telegram.org/bot123456:${s}/sendMessage` },
  { baseURL: `https://discord.example/api/webhooks/123456789/${s}` },
  { extra: `sk-proj-${s}` },
  { extra: `ghp_${s}` },
  { notes: `use ${s} for the gateway` },
  { modelKwargs: { extra_body: { license: s } } },
  { defaultHeaders: { 'X-Trace': `Basic ${s}` } },
];

/** What must not be found: the secret, and, for longer ones, its usual encodings. */
function forms(secret: string): string[] {
  if (secret.length < 8) return [secret];
  return [
    secret,
    Buffer.from(secret).toString('base64').replace(/=+$/, ''),
    Buffer.from(secret).toString('base64url'),
    Buffer.from(secret).toString('hex'),
    encodeURIComponent(JSON.stringify(secret)),
  ];
}

const plain = fc.dictionary(
  fc.constantFrom('region', 'mode', 'temperature', 'note', 'stream'),
  fc.oneof(fc.stringMatching(/^[a-z ]{0,12}$/), fc.boolean()),
  { maxKeys: 3 },
);

describe('no secret reaches a stored byte (issue 26)', () => {
  it('(b) a secret under any secret name, in any position: high-entropy or a PIN', () => {
    fc.assert(
      fc.property(fc.oneof(highEntropy, lowEntropy), fc.nat(), fc.nat(), plain, (secret, kind, i, params) => {
        const placements = namedPlacements(secret, i);
        const request = { ...params, ...placements[kind % placements.length]! };
        const stored = keyOf(request).llmString.replace(MARKERS, '');
        for (const form of forms(secret)) expect(stored).not.toContain(form);
      }),
      { numRuns: propertyRuns(4000) },
    );
  });

  it('(b) a random-looking key in a URL path, a webhook, or free text under an innocent name', () => {
    fc.assert(
      fc.property(highEntropy, fc.nat(), plain, (secret, kind, params) => {
        const placements = shapedPlacements(secret);
        const request = { ...params, ...placements[kind % placements.length]! };
        const stored = keyOf(request).llmString.replace(MARKERS, '');
        for (const form of forms(secret)) expect(stored).not.toContain(form);
      }),
      { numRuns: propertyRuns(2000) },
    );
  });

  it('(c) rotating a provider credential keeps the key; rotating any other secret changes it', () => {
    fc.assert(
      fc.property(
        fc.oneof(highEntropy, lowEntropy),
        fc.oneof(highEntropy, lowEntropy),
        fc.nat(),
        fc.nat(),
        plain,
        (a, b, kind, i, params) => {
          fc.pre(a !== b);
          const placements = namedPlacements(a, i);
          const k = kind % placements.length;
          const rotated = { ...params, ...namedPlacements(b, i)[k]! };
          const original = { ...params, ...placements[k]! };
          // The first four placements are provider credentials, and so is a key parameter of the
          // provider's default query (`defaultQuery.key`): the rest are digested.
          const param = FAMILY_QUERY[i % FAMILY_QUERY.length]!;
          const credential = k < 4 || (k === 8 && CREDENTIAL_QUERY_PARAMS.has(param));
          if (credential) expect(keyOf(rotated).hash).toBe(keyOf(original).hash);
          else expect(keyOf(rotated).hash).not.toBe(keyOf(original).hash);
        },
      ),
      { numRuns: propertyRuns(2000) },
    );
  });

  it('a stored llm string holding digests sanitizes to itself', () => {
    fc.assert(
      fc.property(fc.oneof(highEntropy, lowEntropy), fc.nat(), fc.nat(), plain, (secret, kind, i, params) => {
        const placements = [...namedPlacements(secret, i), ...shapedPlacements(secret)];
        const stored = keyOf({ ...params, ...placements[kind % placements.length]! }).llmString;
        expect(sanitizeLlmKey(stored)).toBe(stored);
      }),
      { numRuns: propertyRuns(2000) },
    );
  });
});
