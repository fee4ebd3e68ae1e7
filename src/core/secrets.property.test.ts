/**
 * Property tests over generated llmKeys, serialized by LangChain's own code: a canary placed in
 * any secret position never survives sanitizing, two keys that differ anywhere outside a secret
 * never collide, a rotated provider credential keeps the key and any other rotated secret does not.
 */
import { FakeListChatModel } from '@langchain/core/utils/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyRuns } from '../../test/support/property-runs.js';
import {
  CREDENTIAL_FIELDS,
  isMapField,
  isSecretFieldName,
  REQUEST_FIELDS,
  sanitizeLlmKeyText,
  scrubString,
} from './secrets.js';

/** LangChain's serialization of a model whose call options are `params` (what BaseChatModel.generate keys by). */
const model = new FakeListChatModel({ responses: ['x'] });
const llmKeyOf = (params: Record<string, unknown>): string =>
  (
    model as unknown as { _getSerializedCacheKeyParametersForCall(o: object): string }
  )._getSerializedCacheKeyParametersForCall(params);

const canary = fc.stringMatching(/^[A-Za-z0-9]{12,24}$/).map((s) => `CNRY7${s}`);

const plainName = fc
  .stringMatching(/^[a-z][a-zA-Z0-9_]{0,12}$/)
  .filter((n) => !isSecretFieldName(n) && !REQUEST_FIELDS.has(n) && !isMapField(n) && n !== 'undefined');
const plainString = fc
  .string({ unit: fc.constantFrom(...'abcxyz XY019-_:=/?&.,;{}"\'中文问题🚀é'.split('')), maxLength: 24 })
  .filter((s) => scrubString(s) === s);
const plainValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    plainString,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(plainName, tie('value'), { maxKeys: 3 }),
  ),
})).value;
const plainParams = fc.dictionary(plainName, plainValue, { maxKeys: 6 });

const SECRET_FIELDS = [
  'apiKey',
  'api_key',
  'openAIApiKey',
  'azureOpenAIApiKey',
  'anthropicApiKey',
  'password',
  'client_secret',
  'accessToken',
  'sessionToken',
  'Authorization',
  'x-api-key',
  'secretAccessKey',
  'accessKeyId',
  'private_key_pem',
  'jwt',
  'bearer',
  'key',
  'apiKeys',
  'credentials',
  'passphrase',
];
const SECRET_HEADERS = [
  'x-portkey-virtual-key',
  'x-functions-key',
  'api-key',
  'Authorization',
  'x-goog-api-key',
  'Cookie',
  'X-Authentication',
  'x-apitoken',
  'X-Pwd',
];

/** One secret, placed in one of the positions where clients keep credentials. Field names start upper-case or are secret, so they never clash with plain names. */
const secret = fc.tuple(canary, fc.nat(), fc.nat()).map(([c, kind, pick]) => {
  const field = SECRET_FIELDS[pick % SECRET_FIELDS.length]!;
  const header = SECRET_HEADERS[pick % SECRET_HEADERS.length]!;
  const placements: Array<Record<string, unknown>> = [
    { [field]: c },
    { [field]: { nested: c } },
    { [field]: [c] },
    { defaultHeaders: { [header]: c, 'X-Team': 'search' } },
    { defaultQuery: { 'api-key': c, 'api-version': '2024' } },
    {
      defaultHeaders: [
        [header, c],
        ['X-Team', 'search'],
      ],
    },
    { BaseURL: `https://user:p@ss${c}@gw.example.test/v1` },
    { BaseURL: `https://user:${c}@gw.example.test/v1` },
    { BaseURL: `https://gw.example.test/v1?key=${c}&api-version=2024` },
    { Notes: `Authorization: Bearer ${c}` },
    { Dsn: `host=db;password=${c};port=5432` },
    { Extra: JSON.stringify({ apiKey: c, region: 'eu' }) },
    { Extra: `sk-proj-${c}` },
    { Configuration: { [field]: c, fetch: () => undefined } },
  ];
  return { canary: c, fields: placements[kind % placements.length]! };
});

/** A provider's own credential, where its class keeps it: the only secrets left out of the key. */
const credential = fc.tuple(canary, fc.nat(), fc.nat()).map(([c, kind, pick]) => {
  const field = [...CREDENTIAL_FIELDS][pick % CREDENTIAL_FIELDS.size]!;
  const header = ['Authorization', 'authorization', 'x-api-key', 'X-Api-Key', 'api-key', 'x-goog-api-key'][
    pick % 6
  ]!;
  const placements: Array<Record<string, unknown>> = [
    { [field]: c },
    { [field]: { nested: c } },
    { configuration: { [field]: c, baseURL: 'https://gw.example.test/v1' } },
    { clientOptions: { [field]: c } },
    { defaultHeaders: { [header]: `Bearer ${c}`, 'X-Team': 'search' } },
    { configuration: { defaultHeaders: { [header]: c }, defaultQuery: { 'api-version': '2024' } } },
    { defaultQuery: { 'api-key': c, 'api-version': '2024' } },
  ];
  return { canary: c, fields: placements[kind % placements.length]! };
});

/** Whether a placement of `secret` is one of a provider credential (left out rather than digested). */
const isCredentialPlacement = (fields: Record<string, unknown>) =>
  Object.keys(fields).some((name) => CREDENTIAL_FIELDS.has(name)) ||
  'defaultQuery' in fields ||
  (Array.isArray(fields.defaultHeaders)
    ? fields.defaultHeaders.some((pair) =>
        /^(authorization|api-key|x-api-key|x-goog-api-key)$/i.test(String(pair[0])),
      )
    : Object.keys((fields.defaultHeaders as object | undefined) ?? {}).some((h) =>
        /^(authorization|api-key|x-api-key|x-goog-api-key)$/i.test(h),
      ));

const sanitized = (params: Record<string, unknown>) => sanitizeLlmKeyText(llmKeyOf(params));

describe('sanitizing llmKeys (property-based)', () => {
  it('a canary in any secret position never survives, at the top level or nested', () => {
    fc.assert(
      fc.property(plainParams, secret, fc.boolean(), (params, s, nested) => {
        const withSecret = nested ? { ...params, Client: { ...s.fields } } : { ...params, ...s.fields };
        const out = sanitized(withSecret);
        expect(out.problem).toBeUndefined();
        expect(out.clean).not.toContain(s.canary);
      }),
      { numRuns: propertyRuns(2000) },
    );
  });

  it('two keys that differ outside a secret never collide, whatever secrets they carry', () => {
    fc.assert(
      fc.property(plainParams, plainParams, secret, secret, (a, b, sa, sb) => {
        fc.pre(llmKeyOf(a) !== llmKeyOf(b));
        expect(sanitized({ ...a, ...sa.fields }).clean).not.toBe(sanitized({ ...b, ...sb.fields }).clean);
        expect(sanitized(a).clean).not.toBe(sanitized(b).clean);
      }),
      { numRuns: propertyRuns(2000) },
    );
  });

  // Only a provider's own credential is left out (so rotating it keeps the key); every other
  // secret is digested, so rotating it changes the key on purpose (secrets.digest.property.test.ts).
  it('a rotated provider credential keeps the key', () => {
    fc.assert(
      fc.property(plainParams, credential, canary, (params, s, other) => {
        const rotated = JSON.parse(JSON.stringify(s.fields).replaceAll(s.canary, other)) as object;
        expect(sanitized({ ...params, ...rotated }).clean).toBe(sanitized({ ...params, ...s.fields }).clean);
      }),
      { numRuns: propertyRuns(1000) },
    );
  });

  it('a rotated secret anywhere else changes the key (digested, never dropped)', () => {
    fc.assert(
      fc.property(plainParams, secret, canary, (params, s, other) => {
        fc.pre(!isCredentialPlacement(s.fields) && other !== s.canary);
        const rotated = JSON.parse(JSON.stringify(s.fields).replaceAll(s.canary, other)) as object;
        expect(sanitized({ ...params, ...rotated }).clean).not.toBe(
          sanitized({ ...params, ...s.fields }).clean,
        );
      }),
      { numRuns: propertyRuns(1000) },
    );
  });
});
