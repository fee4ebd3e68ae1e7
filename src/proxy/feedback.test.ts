/**
 * Feedback by response id: a similarity answer carries `x-strata-response-id`; the caller that
 * received it reports it wrong (or right) with `x-strata-feedback` on any request or on
 * /strata/feedback, and nobody else can.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';
import { LabelledTier } from '../../test/support/labelled-tier.js';
import { DEFAULT_BREAKER } from '../core/breaker.js';
import { ManualClock } from '../core/clock.js';
import { keyForSealedTier } from '../core/encryption/at-rest.js';
import { TenantKeys } from '../core/encryption/tenant.js';
import { deriveKey } from '../core/key.js';
import { Manager } from '../core/manager.js';
import { Feedback, reportOf } from './feedback.js';
import type { Caller } from './tenancy.js';

let gw: TestGateway;
const SYSTEM = { role: 'system', content: 'You answer questions about the Acme account portal.' };
const ALICE = 'sk-feedback-alice';
const BOB = 'sk-feedback-bob';

beforeAll(async () => {
  gw = await startGateway({
    tiers: [{ type: 'memory' }, { type: 'semantic', embeddings: 'lexical', path: ':memory:' }],
  });
});
afterAll(async () => {
  await gw?.close();
});

function ask(question: string, key: string | undefined, headers: Record<string, string> = {}) {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
      ...headers,
    },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [SYSTEM, { role: 'user', content: question }] }),
  });
}

function report(verdict: string, id: string, key: string | undefined) {
  return fetch(`${gw.url}/strata/feedback`, {
    method: 'POST',
    headers: {
      'x-strata-feedback': `${verdict} ${id}`,
      ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
    },
  });
}

describe('feedback on similarity answers through the gateway', () => {
  it('gives a response id to a similarity hit only, not to a miss or an exact hit', async () => {
    const miss = await ask('How do I change the email on my account?', ALICE);
    expect(miss.headers.get('x-strata-cache')).toBe('miss');
    expect(miss.headers.get('x-strata-response-id')).toBeNull();
    const exact = await ask('How do I change the email on my account?', ALICE);
    expect(exact.headers.get('x-strata-tier')).toBe('memory');
    expect(exact.headers.get('x-strata-response-id')).toBeNull();
    const similar = await ask('how do i change the email on my account', ALICE);
    expect(similar.headers.get('x-strata-tier')).toBe('semantic');
    expect(similar.headers.get('x-strata-response-id')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Each similarity answer gets its own id.
    const again = await ask('how do i change the email on my account', ALICE);
    expect(again.headers.get('x-strata-response-id')).not.toBe(similar.headers.get('x-strata-response-id'));
  });

  it("another tenant's report, or one without credentials, is unknown and changes nothing", async () => {
    await ask('Where can I download my invoices?', ALICE);
    const hit = await ask('where can i download my invoices', ALICE);
    const id = hit.headers.get('x-strata-response-id')!;
    expect(id).toBeTruthy();
    const bob = await report('wrong', id, BOB);
    expect(bob.status).toBe(200);
    expect(bob.headers.get('x-strata-feedback')).toBe('unknown');
    expect(await bob.json()).toEqual({ feedback: 'unknown' });
    const anonymous = await report('wrong', id, undefined);
    expect(anonymous.headers.get('x-strata-feedback')).toBe('unknown');
    // On a cached request of Bob's own: still unknown, and his request is answered as usual.
    const onRequest = await ask('Something of my own?', BOB, { 'x-strata-feedback': `wrong ${id}` });
    expect(onRequest.status).toBe(200);
    expect(onRequest.headers.get('x-strata-feedback')).toBe('unknown');
    const calls = gw.fake.count();
    const still = await ask('where can i download my invoices', ALICE);
    expect(still.headers.get('x-strata-tier')).toBe('semantic');
    expect(gw.fake.count()).toBe(calls);
    // An id nobody was given.
    expect((await report('right', 'A'.repeat(22), ALICE)).headers.get('x-strata-feedback')).toBe('unknown');
  });

  it('wrong from the caller that received it takes the entry out of matching, once', async () => {
    await ask('How do I enable two-factor login?', ALICE);
    const hit = await ask('how do i enable two-factor login', ALICE);
    const id = hit.headers.get('x-strata-response-id')!;
    // Reported on a request of its own (a pass-through one here), applied before it is answered.
    const models = await fetch(`${gw.url}/v1/models`, {
      headers: { authorization: `Bearer ${ALICE}`, 'x-strata-feedback': `wrong ${id}` },
    });
    expect(models.status).toBe(200);
    expect(models.headers.get('x-strata-feedback')).toBe('applied');
    // Not forwarded upstream.
    const forwarded = gw.fake.calls.at(-1)!;
    expect(forwarded.path).toBe('/v1/models');
    expect(forwarded.headers['x-strata-feedback']).toBeUndefined();
    const calls = gw.fake.count();
    const after = await ask('how do i enable two-factor login', ALICE);
    expect(after.headers.get('x-strata-cache')).toBe('miss');
    expect(gw.fake.count()).toBe(calls + 1);
    // An id counts once.
    expect((await report('wrong', id, ALICE)).headers.get('x-strata-feedback')).toBe('unknown');
  });

  it('a feedback header on a cached request neither changes its key nor reaches the upstream', async () => {
    await ask('What payment methods do you accept?', ALICE);
    const hit = await ask('what payment methods do you accept', ALICE);
    const id = hit.headers.get('x-strata-response-id')!;
    const calls = gw.fake.count();
    const exact = await ask('What payment methods do you accept?', ALICE, {
      'x-strata-feedback': `right ${id}`,
    });
    expect(exact.headers.get('x-strata-tier')).toBe('memory');
    expect(gw.fake.count()).toBe(calls);
    // This semantic tier has no error bound, so it learns nothing from a right answer: nothing recorded.
    expect(exact.headers.get('x-strata-feedback')).toBe('unknown');
  });

  it('a malformed header is a 400 naming it, and nothing goes upstream', async () => {
    const calls = gw.fake.count();
    for (const value of ['wrong', 'bad abcdefghijklmnopqrstuv', 'wrong short', 'wrong abc def']) {
      const res = await ask('How do I close my account?', ALICE, { 'x-strata-feedback': value });
      expect(res.status).toBe(400);
      expect(res.headers.get('x-strata-error')).toBe('STRATA_REQUEST_FEEDBACK');
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        /x-strata-feedback/,
      );
    }
    const none = await fetch(`${gw.url}/strata/feedback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALICE}` },
    });
    expect(none.status).toBe(400);
    expect(
      (await fetch(`${gw.url}/strata/feedback`, { headers: { authorization: `Bearer ${ALICE}` } })).status,
    ).toBe(405);
    expect(gw.fake.count()).toBe(calls);
  });
});

describe('feedback under per-tenant keys', () => {
  it("wrong reaches the sealed semantic entry through the caller's own key", async () => {
    const sealed = await startGateway({
      tiers: [{ type: 'memory' }, { type: 'semantic', embeddings: 'lexical', path: ':memory:' }],
      proxy: { encryption: 'per-tenant' },
    });
    try {
      const post = (question: string, headers: Record<string, string> = {}) =>
        fetch(`${sealed.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ALICE}`, ...headers },
          body: JSON.stringify({
            model: 'gpt-4o-mini',
            messages: [SYSTEM, { role: 'user', content: question }],
          }),
        });
      await post('How do I export my contacts?');
      const hit = await post('how do i export my contacts');
      expect(hit.headers.get('x-strata-tier')).toBe('semantic');
      const id = hit.headers.get('x-strata-response-id')!;
      const res = await fetch(`${sealed.url}/strata/feedback`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ALICE}`, 'x-strata-feedback': `wrong ${id}` },
      });
      expect(await res.json()).toEqual({ feedback: 'applied' });
      expect((await post('how do i export my contacts')).headers.get('x-strata-cache')).toBe('miss');
    } finally {
      await sealed.close();
    }
  });
});

describe('Feedback', () => {
  const key = deriveKey('root/key:a', '{"model":"m"}', 'question');
  const alice: Caller = {
    namespace: 'root/key:a',
    fingerprint: 'key:a',
    credentials: ['authorization:bearer a'],
  };

  function engine() {
    const tier = new LabelledTier();
    const manager = new Manager(
      [{ tier, options: { timeoutMs: 1_000, breaker: DEFAULT_BREAKER, sealed: true } }],
      {
        clock: new ManualClock(),
        coalesceWaitMs: 0,
        storePrompt: true,
        logger: { warn: () => {} },
      },
    );
    return { tier, manager };
  }

  it('right is markGood with the key the caller was answered for, under its per-tenant sealer', async () => {
    const { tier, manager } = engine();
    const feedback = new Feedback(manager);
    const sealer = new TenantKeys(undefined).sealerFor(alice.credentials);
    const id = feedback.remember(key, alice, sealer);
    expect(await feedback.apply({ verdict: 'right', id }, alice)).toBe('applied');
    expect(tier.labels).toEqual([{ label: 'good', key: keyForSealedTier(key) }]);
    expect(await feedback.apply({ verdict: 'right', id }, alice)).toBe('unknown');
  });

  it('the same tenant under other credentials, or another tenant, is not the caller that was answered', async () => {
    const { tier, manager } = engine();
    const feedback = new Feedback(manager);
    const id = feedback.remember(key, alice, undefined);
    expect(await feedback.apply({ verdict: 'wrong', id }, { ...alice, fingerprint: 'key:b' })).toBe(
      'unknown',
    );
    expect(await feedback.apply({ verdict: 'wrong', id }, { ...alice, namespace: 'root/key:b' })).toBe(
      'unknown',
    );
    expect(await feedback.apply({ verdict: 'wrong', id }, { ...alice, namespace: undefined })).toBe(
      'unknown',
    );
    expect(tier.labels).toEqual([]);
    expect(await feedback.apply({ verdict: 'wrong', id }, alice)).toBe('applied');
  });

  it('remembers the most recent responses only', async () => {
    const { manager } = engine();
    const feedback = new Feedback(manager, 2);
    const first = feedback.remember(key, alice, undefined);
    feedback.remember(key, alice, undefined);
    feedback.remember(key, alice, undefined);
    expect(await feedback.apply({ verdict: 'wrong', id: first }, alice)).toBe('unknown');
  });

  it('reads one report per request, case-insensitive in its verdict', () => {
    const id = 'abcdefghijklmnopqrstuv';
    expect(reportOf({})).toBeUndefined();
    expect(reportOf({ 'x-strata-feedback': ` Wrong  ${id} ` })).toEqual({ verdict: 'wrong', id });
    expect(() => reportOf({ 'x-strata-feedback': [`wrong ${id}`, `right ${id}`] })).toThrow(
      /one per request/,
    );
  });
});
