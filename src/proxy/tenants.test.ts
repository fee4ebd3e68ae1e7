/**
 * The tenancy cases a new user found, each as it was sent: curl-style schemes, keys in other
 * headers and in the query string, client-token-only callers, the config's namespace, and header
 * tenants with body sub-namespaces; through `fetch` and the `openai` and Anthropic SDKs (the
 * Python OpenAI SDK's cases are in python-sdk.e2e.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.js';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(async () => {
  await fake?.close();
});

/** One chat request as curl sends it; returns the cache status and the answer. */
async function curl(gw: TestGateway, headers: Record<string, string>, question: string, query = '') {
  const res = await fetch(`${gw.url}/v1/chat/completions${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] }),
  });
  const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
  return {
    status: res.status,
    cache: res.headers.get('x-strata-cache'),
    why: res.headers.get('x-strata-bypass'),
    text: body.choices?.[0]?.message.content,
  };
}

describe('callers beyond the three SDK headers', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ fake });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("Basic mallory and an unauthenticated caller do not get Basic alice's answer", async () => {
    const q = 'What is on the quarterly roadmap?';
    const alice = await curl(gw, { authorization: `Basic ${btoa('alice:pw')}` }, q);
    expect(alice.cache).toBe('miss');
    expect(await curl(gw, { authorization: `Basic ${btoa('alice:pw')}` }, q)).toMatchObject({
      cache: 'hit',
      text: alice.text,
    });
    const mallory = await curl(gw, { authorization: `Basic ${btoa('mallory:x')}` }, q);
    expect(mallory.cache).toBe('miss');
    expect(mallory.text).not.toBe(alice.text);
    const nobody = await curl(gw, {}, q);
    expect(nobody).toMatchObject({ status: 200, cache: 'bypass' });
    expect(nobody.why).toMatch(/no credential/);
    expect(nobody.text).not.toBe(alice.text);
  });

  it('Token, Bearer<TAB> and custom schemes are callers of their own', async () => {
    const q = 'Summarise the incident report';
    const seen = new Set<string>();
    for (const authorization of ['Token t-1', 'Token t-2', 'Bearer\tt-1', 'ApiKey t-1', 't-1']) {
      const first = await curl(gw, { authorization }, q);
      expect(first.cache).toBe('miss');
      seen.add(first.text!);
      expect(await curl(gw, { authorization }, q)).toMatchObject({ cache: 'hit', text: first.text });
    }
    expect(seen.size).toBe(5);
  });

  it('keys in other headers and in the query string separate callers (openai SDK)', async () => {
    const request = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'Which region is cheapest?' }],
    };
    // One placeholder apiKey for all: what tells them apart is the header or the query.
    const client = (o: { defaultHeaders?: Record<string, string>; defaultQuery?: Record<string, string> }) =>
      new OpenAI({ apiKey: 'placeholder', baseURL: `${gw.url}/v1`, maxRetries: 0, ...o });
    const answers = new Map<string, string>();
    type Presented = { defaultHeaders?: Record<string, string>; defaultQuery?: Record<string, string> };
    for (const [name, o] of Object.entries<Presented>({
      portkeyA: { defaultHeaders: { 'x-portkey-api-key': 'pk-team-a' } },
      portkeyB: { defaultHeaders: { 'x-portkey-api-key': 'pk-team-b' } },
      googA: { defaultHeaders: { 'x-goog-api-key': 'AIza-team-a' } },
      queryA: { defaultQuery: { key: 'team-a-query-key' } },
      queryB: { defaultQuery: { key: 'team-b-query-key' } },
      azureA: { defaultQuery: { 'api-key': 'azure-a' } },
    })) {
      const { data, response } = await client(o).chat.completions.create(request).withResponse();
      expect(response.headers.get('x-strata-cache')).toBe('miss');
      answers.set(name, data.choices[0]!.message.content!);
      const again = await client(o).chat.completions.create(request).withResponse();
      expect(again.response.headers.get('x-strata-cache')).toBe('hit');
    }
    expect(new Set(answers.values()).size).toBe(answers.size);
  });

  it('two Anthropic keys, or a key and an auth token, never share (Anthropic SDK)', async () => {
    const ask = (client: Anthropic) =>
      client.messages
        .create({
          model: 'claude-sonnet-4-5',
          max_tokens: 64,
          messages: [{ role: 'user', content: '你好，账单在哪里？' }],
        })
        .withResponse();
    const key = (apiKey: string) => new Anthropic({ apiKey, baseURL: gw.url, maxRetries: 0 });
    const token = (authToken: string) =>
      new Anthropic({ apiKey: null, authToken, baseURL: gw.url, maxRetries: 0 });
    const a = await ask(key('sk-ant-a'));
    expect((await ask(key('sk-ant-a'))).response.headers.get('x-strata-cache')).toBe('hit');
    for (const other of [key('sk-ant-b'), token('sk-ant-a'), token('oauth-b')]) {
      const { data, response } = await ask(other);
      expect(response.headers.get('x-strata-cache')).toBe('miss');
      expect(data.content).not.toEqual(a.data.content);
    }
  });
});

describe('callers that present only a client token', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({
      fake,
      proxy: {
        clientTokens: ['alpha-client-token-0001', 'bravo-client-token-0002'],
        upstreams: [{ url: fake.url, api: 'openai', apiKey: 'sk-operator-upstream-key' }],
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('token "bravo" does not get token "alpha"\'s answer, as API key or in x-strata-token', async () => {
    const q = 'Draft the release notes';
    const alpha = await curl(gw, { authorization: 'Bearer alpha-client-token-0001' }, q);
    expect(alpha.cache).toBe('miss');
    expect(fake.calls.at(-1)!.headers.authorization).toBe('Bearer sk-operator-upstream-key');
    expect(await curl(gw, { authorization: 'Bearer alpha-client-token-0001' }, q)).toMatchObject({
      cache: 'hit',
      text: alpha.text,
    });
    const bravos: Array<Record<string, string>> = [
      { authorization: 'Bearer bravo-client-token-0002' },
      { 'x-strata-token': 'bravo-client-token-0002' },
    ];
    for (const headers of bravos) {
      const bravo = await curl(gw, headers, q);
      expect(bravo.cache).not.toBe('hit');
      expect(bravo.text).not.toBe(alpha.text);
    }
  });
});

describe('a gateway that sends its own key', () => {
  it("sends none of the caller's credentials beside it: no org or project header, no ?key=", async () => {
    const gw = await startGateway({
      fake,
      proxy: { upstreams: [{ url: fake.url, api: 'openai', apiKey: 'sk-operator-upstream-key' }] },
    });
    try {
      const answer = await curl(
        gw,
        {
          authorization: 'Bearer sk-caller-own',
          'openai-organization': 'org-caller-picked',
          'openai-project': 'proj-caller-picked',
          'x-goog-api-key': 'AIza-caller',
          'x-trace': 'kept',
        },
        'Whose bill is this?',
        '?api-version=2025-01-01&key=caller-query-key',
      );
      expect(answer.status).toBe(200);
      const call = fake.calls.at(-1)!;
      expect(call.headers.authorization).toBe('Bearer sk-operator-upstream-key');
      for (const name of ['openai-organization', 'openai-project', 'x-goog-api-key'])
        expect(call.headers[name], name).toBeUndefined();
      expect(call.headers['x-trace']).toBe('kept');
      expect(call.url).toBe('/v1/chat/completions?api-version=2025-01-01');
    } finally {
      await gw.close();
    }
  });
});

describe('namespaces', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'strata-tenants-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("two gateways configured alpha and beta on one SQLite file do not serve each other's entries", async () => {
    const tiers = [{ type: 'sqlite' as const, path: join(dir, 'shared.db') }];
    const alpha = await startGateway({ fake, tiers, config: { namespace: 'alpha' } });
    const beta = await startGateway({ fake, tiers, config: { namespace: 'beta' } });
    try {
      const q = 'Which namespace answers?';
      const headers = { authorization: 'Bearer sk-same-key' };
      const a = await curl(alpha, headers, q);
      expect((await curl(alpha, headers, q)).cache).toBe('hit');
      const b = await curl(beta, headers, q);
      expect(b.cache).toBe('miss');
      expect(b.text).not.toBe(a.text);
    } finally {
      await alpha.close();
      await beta.close();
    }
  });

  it("team a/b does not read team a's entries stored under body namespace b", async () => {
    const gw = await startGateway({ fake, proxy: { tenant: { header: 'x-team' } } });
    try {
      const ask = (team: string, namespace?: string) =>
        fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-team': team },
          body: JSON.stringify({
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: 'Team question' }],
            ...(namespace ? { cache: { namespace } } : {}),
          }),
        }).then(async (r) => ({ cache: r.headers.get('x-strata-cache'), body: await r.text() }));
      const a = await ask('a', 'b');
      expect(a.cache).toBe('miss');
      expect((await ask('a', 'b')).cache).toBe('hit');
      for (const [team, ns] of [
        ['a/b', undefined],
        ['a', undefined],
        ['a', 'c'],
        ['b', undefined],
      ] as const) {
        const other = await ask(team, ns);
        expect(other.cache).toBe('miss');
        expect(other.body).not.toBe(a.body);
      }
    } finally {
      await gw.close();
    }
  });
});

describe('only-if-cached from a caller that is not cached', () => {
  it('is a 504 with the reason, and the upstream is not called', async () => {
    const gw = await startGateway({ fake });
    try {
      const calls = fake.count();
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'cache-control': 'only-if-cached' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(504);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/no credential/);
      expect(fake.count()).toBe(calls);
    } finally {
      await gw.close();
    }
  });
});
