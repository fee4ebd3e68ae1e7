/**
 * Whose answers a gateway request may see. A property test sends pairs of requests through the
 * gateway that differ in one credential-bearing part (an authorization scheme or value, a header's
 * name or value, a query parameter, the client token, an MCP token in the body) and proves the
 * second never gets the first's answer; requests that present no credential are never cached.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.js';
import { everythingStored, startGateway, type TestGateway } from '../../test/support/gateway.js';
import { propertyRuns } from '../../test/support/property-runs.js';
import { parseConfig } from '../config/schema.js';
import { credentialsOf, DEFAULT_CREDENTIAL_HEADERS, identify, keyTags, tagsOfKey } from './tenancy.js';

/** One credential a request presents. */
type Part =
  | { readonly kind: 'auth'; readonly scheme: string; readonly sep: string; readonly value: string }
  | { readonly kind: 'header'; readonly name: string; readonly value: string }
  | { readonly kind: 'query'; readonly name: string; readonly value: string };

interface Caller {
  readonly parts: readonly Part[];
  /** The client token (x-strata-token), on a gateway that requires one. */
  readonly token?: string;
  /** An MCP server token in the body (Responses tools[].authorization). */
  readonly mcp?: string;
}

const SCHEMES = ['Bearer', 'Basic', 'Token', 'Digest', 'ApiKey', 'AWS4-HMAC-SHA256', 'Key'];
const HEADERS = [
  ...DEFAULT_CREDENTIAL_HEADERS.filter(
    (h) => !['authorization', 'proxy-authorization', 'cookie', 'x-strata-token'].includes(h),
  ),
  'x-custom-api-key',
  'x-acme-access-token',
  'x-service-secret',
];
const QUERY = ['key', 'api-key', 'api_key', 'access_token', 'token', 'sig', 'code', 'apikey'];
const TOKENS = ['client-token-alpha-0001', 'client-token-bravo-0002', 'client-token-charl-0003'];

const value = fc.stringMatching(/^[A-Za-z0-9._~+/=:-]{1,24}$/);
const part: fc.Arbitrary<Part> = fc.oneof(
  fc.record({
    kind: fc.constant('auth' as const),
    scheme: fc.constantFrom(...SCHEMES).chain((s) => fc.constantFrom(s, s.toLowerCase(), s.toUpperCase())),
    sep: fc.constantFrom(' ', '\t', '  '),
    value,
  }),
  fc.record({ kind: fc.constant('header' as const), name: fc.constantFrom(...HEADERS), value }),
  fc.record({ kind: fc.constant('query' as const), name: fc.constantFrom(...QUERY), value }),
);

const where = (p: Part) => (p.kind === 'auth' ? 'authorization' : `${p.kind}:${p.name}`);

/** 1-3 parts, at most one per place. */
const parts = fc.uniqueArray(part, { minLength: 1, maxLength: 3, selector: where });

/** A second part in the same place as `p` that differs from it in a way that names another caller. */
function otherInPlace(p: Part): fc.Arbitrary<Part> {
  const otherValue = value.filter((v) => v !== p.value);
  if (p.kind === 'auth')
    return fc.oneof(
      otherValue.map((v) => ({ ...p, value: v })),
      fc
        .constantFrom(...SCHEMES.filter((s) => s.toLowerCase() !== p.scheme.toLowerCase()))
        .map((scheme) => ({ ...p, scheme })),
    );
  const names = p.kind === 'header' ? HEADERS : QUERY;
  return fc.oneof(
    otherValue.map((v) => ({ ...p, value: v })),
    fc.constantFrom(...names.filter((n) => n !== p.name)).map((name) => ({ ...p, name })),
  );
}

/** A caller and another that differs from it in exactly one credential-bearing part. */
function pairs(o: { tokens: boolean; mcp: boolean }): fc.Arbitrary<[Caller, Caller]> {
  const token = o.tokens ? fc.constantFrom(...TOKENS) : fc.constant(undefined);
  const mcp = o.mcp ? value : fc.constant(undefined);
  return fc
    .record({ parts, token, mcp })
    .map((c): Caller => clean(c))
    .chain((a) => {
      const changes: Array<fc.Arbitrary<Caller>> = [
        // One part changed in place (value, header name, query name or scheme).
        fc
          .nat(a.parts.length - 1)
          .chain((i) =>
            otherInPlace(a.parts[i]!).map((p) => ({ ...a, parts: a.parts.map((q, j) => (j === i ? p : q)) })),
          ),
        // One part more.
        part
          .filter((p) => !a.parts.some((q) => where(q) === where(p)))
          .map((p) => ({ ...a, parts: [...a.parts, p] })),
        // One part fewer (possibly none left: then nothing may be cached).
        fc.nat(a.parts.length - 1).map((i) => ({ ...a, parts: a.parts.filter((_, j) => j !== i) })),
      ];
      if (o.tokens)
        changes.push(
          fc.constantFrom(...TOKENS.filter((t) => t !== a.token)).map((t) => ({ ...a, token: t })),
        );
      if (o.mcp) changes.push(value.filter((v) => v !== a.mcp).map((m) => ({ ...a, mcp: m })));
      return fc.oneof(...changes).map((b): [Caller, Caller] => [a, clean(b)]);
    });
}

function clean(c: { parts: readonly Part[]; token?: string | undefined; mcp?: string | undefined }): Caller {
  return {
    parts: c.parts,
    ...(c.token === undefined ? {} : { token: c.token }),
    ...(c.mcp === undefined ? {} : { mcp: c.mcp }),
  };
}

let run = 0;

/** Sends one Responses request as `caller`; returns the cache status and the answer's text. */
async function ask(gw: TestGateway, caller: Caller, question: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const query = new URLSearchParams({ 'api-version': '2025-01-01' });
  for (const p of caller.parts) {
    if (p.kind === 'auth') headers.authorization = `${p.scheme}${p.sep}${p.value}`;
    else if (p.kind === 'header') headers[p.name] = p.value;
    else query.append(p.name, p.value);
  }
  if (caller.token) headers['x-strata-token'] = caller.token;
  const tools =
    caller.mcp === undefined
      ? []
      : [
          {
            type: 'mcp',
            server_label: 'crm',
            server_url: 'https://mcp.example.com/sse',
            authorization: caller.mcp,
            require_approval: 'never',
          },
        ];
  const res = await fetch(`${gw.url}/v1/responses?${query}`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model: 'gpt-4o-mini', input: question, tools }),
  });
  const body = (await res.json()) as { output?: Array<{ content?: Array<{ text?: string }> }> };
  expect(res.status).toBe(200);
  return {
    cache: res.headers.get('x-strata-cache'),
    text: body.output?.at(-1)?.content?.at(-1)?.text,
  };
}

async function neverShared(gw: TestGateway, [a, b]: [Caller, Caller]): Promise<void> {
  const question = `Which plan suits a team of ${++run}?`;
  const first = await ask(gw, a, question);
  const again = await ask(gw, a, question);
  // The pair proves something only if `a`'s answer was stored and is served to `a`.
  expect(first.cache).toBe('miss');
  expect(again).toEqual({ cache: 'hit', text: first.text });
  const other = await ask(gw, b, question);
  expect(other.cache).not.toBe('hit');
  expect(other.text).not.toBe(first.text);
  if (b.parts.length === 0 && b.token === undefined) expect(other.cache).toBe('bypass');
}

describe('gateway tenants (property)', () => {
  let gw: TestGateway;
  let tokens: TestGateway;
  let fake: FakeLlm;
  beforeAll(async () => {
    gw = await startGateway();
    // Callers present only a client token; the gateway holds the upstream key.
    fake = await startFakeLlm();
    tokens = await startGateway({
      fake,
      proxy: {
        clientTokens: TOKENS,
        upstreams: [{ url: fake.url, api: 'openai', apiKey: 'sk-gateway-own-upstream-key' }],
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await tokens?.close();
    await fake?.close();
  });

  it('requests that differ in any credential part never share an answer', async () => {
    await fc.assert(
      fc.asyncProperty(pairs({ tokens: false, mcp: true }), (pair) => neverShared(gw, pair)),
      { numRuns: propertyRuns(120) },
    );
  });

  it('with client tokens, callers that differ in their token or any other part never share', async () => {
    await fc.assert(
      fc.asyncProperty(pairs({ tokens: true, mcp: false }), (pair) => neverShared(tokens, pair)),
      { numRuns: propertyRuns(60) },
    );
  });

  it('requests without a credential are never cached', async () => {
    const harmless = fc.dictionary(
      fc.constantFrom(
        'x-request-id',
        'user-agent',
        'x-team',
        'idempotency-key',
        'x-stainless-lang',
        'traceparent',
      ),
      value,
      { maxKeys: 4 },
    );
    await fc.assert(
      fc.asyncProperty(harmless, async (headers) => {
        const question = `Anonymous question ${++run}`;
        const calls = gw.fake.count();
        for (let i = 0; i < 2; i++) {
          const res = await fetch(`${gw.url}/v1/chat/completions?api-version=1`, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] }),
          });
          await res.arrayBuffer();
          expect(res.status).toBe(200);
          expect(res.headers.get('x-strata-cache')).toBe('bypass');
          expect(res.headers.get('x-strata-bypass')).toMatch(/no credential/);
        }
        expect(gw.fake.count()).toBe(calls + 2);
        expect(await everythingStored(gw.proxy)).not.toContain(question);
      }),
      { numRuns: propertyRuns(25) },
    );
  });
});

describe('credentials as the tenant sees them', () => {
  const config = parseConfig({
    tiers: [{ type: 'memory' }],
    proxy: { upstreams: [{ url: 'http://127.0.0.1:1', api: 'openai' }], credentialHeaders: ['x-acme-user'] },
  }).proxy!;
  const tenancy = { config, root: 'prod', clientTokens: [] };
  const ns = (headers: Record<string, string>, query = '') =>
    identify(tenancy, headers, new URLSearchParams(query))!.namespace;

  it('normalises only what HTTP does not count: scheme case and the space after it', () => {
    expect(ns({ authorization: 'Bearer k-1' })).toBe(ns({ authorization: 'bearer\tk-1' }));
    expect(ns({ authorization: 'Basic YWxpY2U6cHc=' })).toBe(ns({ authorization: 'BASIC  YWxpY2U6cHc=' }));
    expect(ns({ authorization: 'Bearer k-1' })).not.toBe(ns({ authorization: 'Bearer K-1' }));
    expect(ns({ authorization: 'Bearer k-1' })).not.toBe(ns({ authorization: 'Token k-1' }));
    expect(ns({ authorization: 'Bearer k-1' })).not.toBe(ns({ 'x-api-key': 'k-1' }));
  });

  it('counts headers on the list, named like a credential, or added by the config', () => {
    expect(
      credentialsOf(
        { 'x-acme-user': 'u1', 'x-request-id': 'r' },
        new URLSearchParams(),
        new Set(['x-acme-user']),
      ),
    ).toEqual(['x-acme-user:u1']);
    expect(ns({ 'x-acme-user': 'u1' })).not.toBe(ns({ 'x-acme-user': 'u2' }));
    expect(ns({ 'x-internal-secret': 'a' })).not.toBe(ns({ 'x-internal-secret': 'b' }));
    expect(ns({ 'x-request-id': 'a' })).toBeUndefined();
  });

  it('puts every tenant under the config namespace, in one segment without a slash', () => {
    for (const headers of [{ authorization: 'Bearer a/b' }, { 'x-api-key': '../x' }] as Record<
      string,
      string
    >[]) {
      const namespace = ns(headers)!;
      expect(namespace.startsWith('prod/')).toBe(true);
      expect(namespace.slice('prod/'.length)).toMatch(/^key:[0-9a-f]{32}$/);
    }
  });

  it('keeps header tenants and their sub-namespaces apart', () => {
    const teams = parseConfig({
      tiers: [{ type: 'memory' }],
      proxy: { upstreams: [{ url: 'http://127.0.0.1:1', api: 'openai' }], tenant: { header: 'x-team' } },
    }).proxy!;
    const team = (t: string) =>
      identify({ config: teams, root: 'prod', clientTokens: [] }, { 'x-team': t }, new URLSearchParams())!
        .namespace;
    expect(team('a')).toBe('prod/team:a');
    expect(team('a/b')).toMatch(/^prod\/team#[0-9a-f]{32}$/);
    expect(new Set([team('a'), team('a/b'), team('b'), team('team:a')]).size).toBe(4);
  });

  it('tags what a key stored wherever it was sent, and nothing for a scheme or an unset key alone', () => {
    const tagsOf = (headers: Record<string, string>, query = '') =>
      keyTags(identify(tenancy, headers, new URLSearchParams(query))!.credentials);
    const [plain] = tagsOfKey('sk-alice-0001');
    for (const [headers, query] of [
      [{ authorization: 'Bearer sk-alice-0001' }, ''],
      [{ 'x-api-key': 'sk-alice-0001', 'openai-organization': 'org-1' }, ''],
      [{ authorization: 'Bearer other' }, 'api_key=sk-alice-0001'],
    ] as const)
      expect(tagsOf(headers, query)).toContain(plain);
    expect(tagsOf({ authorization: 'Bearer sk-bob' })).not.toContain(plain);
    expect(tagsOf({ authorization: 'basic YWxpY2U6cHc=' })).toEqual(
      expect.arrayContaining([...tagsOfKey('Basic YWxpY2U6cHc='), ...tagsOfKey('pw')]),
    );
    for (const authorization of [
      'Bearer',
      'Bearer  ',
      'bearer undefined',
      'Bearer null',
      'Bearer None',
      'Basic Og==',
      '',
    ])
      expect(ns({ authorization }), authorization).toBeUndefined();
    // `curl -u user:KEY` is found by the key alone.
    expect(tagsOf({ authorization: `Basic ${btoa('user:sk-alice-0001')}` })).toContain(plain);
    // More credentials than an entry can carry tags for: not cached, so none escapes a purge.
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-k${i}-token`, `v${i}`]));
    expect(ns({ authorization: 'Bearer sk-alice-0001', ...many })).toBeUndefined();
  });

  it('digests a header tenant taken from a credential header, and binds it to the client token', () => {
    const byKey = parseConfig({
      tiers: [{ type: 'memory' }],
      proxy: {
        upstreams: [{ url: 'http://127.0.0.1:1', api: 'openai' }],
        tenant: { header: 'x-goog-api-key' },
      },
    }).proxy!;
    const namespace = identify(
      { config: byKey, root: 'r', clientTokens: [] },
      { 'x-goog-api-key': 'AIzaPlainKey01' },
      new URLSearchParams(),
    )!.namespace!;
    expect(namespace).toMatch(/^r\/team#[0-9a-f]{32}$/);
    expect(namespace).not.toContain('AIza');
    const teams = parseConfig({
      tiers: [{ type: 'memory' }],
      proxy: {
        upstreams: [{ url: 'http://127.0.0.1:1', api: 'openai', apiKey: 'sk-operator' }],
        tenant: { header: 'x-team' },
        clientTokens: ['team-a-token-aaaaaaaa', 'team-b-token-bbbbbbbb'],
      },
    }).proxy!;
    const as = (token: string) =>
      identify(
        { config: teams, root: 'r', clientTokens: teams.clientTokens },
        { authorization: `Bearer ${token}`, 'x-team': 'b' },
        new URLSearchParams(),
      )!.namespace;
    expect(as('team-a-token-aaaaaaaa')).not.toBe(as('team-b-token-bbbbbbbb'));
    expect(as('team-b-token-bbbbbbbb')).toMatch(/^r\/team:b~[0-9a-f]{16}$/);
  });
});
