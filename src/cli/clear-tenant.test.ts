/**
 * `strata clear --tenant-key-env VAR`: the gateway's tenants are keyed digests of their keys, so
 * an operator clears one by naming the variable that holds its key. Against a real gateway on a
 * SQLite file: the tenant's entries go (whichever header its SDK sent the key in), the others
 * stay, the key is never printed, and what cannot be done is said with the usual exit statuses.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliWorkspaces, entryRows, holdExclusiveLock } from '../../test/support/cli.js';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';
import { runTs } from '../../test/support/run-ts.js';
import { ROOT } from '../../test/support/services.js';

const { workspace, tempDir } = cliWorkspaces('strata-clear-tenant-');
const DIGEST_KEY = 'clear-tenant-test-digest-key-0123456789abcdef';
const ALICE = 'sk-alice-0123456789-secret';
const BOB = 'sk-bob-9876543210-secret';

const saved = { digest: process.env.STRATA_DIGEST_KEY };
beforeAll(() => {
  // The gateway and the command must agree on the digest key, as two processes would through the environment.
  process.env.STRATA_DIGEST_KEY = DIGEST_KEY;
  process.env.CLEAR_TEST_ALICE = ALICE;
});
afterAll(() => {
  if (saved.digest === undefined) delete process.env.STRATA_DIGEST_KEY;
  else process.env.STRATA_DIGEST_KEY = saved.digest;
  delete process.env.CLEAR_TEST_ALICE;
});

const gateways: TestGateway[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  for (const gw of gateways.splice(0)) await gw.close();
});

/** A gateway on one SQLite file, and a CLI config for the same file and namespace. */
async function setup(proxy: Record<string, unknown> = {}) {
  const db = join(tempDir(), 'cache.db');
  const tiers = [{ type: 'sqlite' as const, path: db, busyTimeoutMs: 200 }];
  const gw = await startGateway({ tiers, config: { namespace: 'app' }, proxy });
  gateways.push(gw);
  const ws = workspace(tiers, { proxy: { upstreams: [{ api: 'openai', url: gw.fake.url }], ...proxy } });
  const ask = async (question: string, headers: Record<string, string>, query = '') => {
    const res = await fetch(`${gw.url}/v1/chat/completions${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] }),
    });
    await res.text();
    return res.headers.get('x-strata-cache');
  };
  return { gw, ws, db, ask };
}

describe('strata clear --tenant-key-env', () => {
  it("removes that key's entries, wherever it was sent and whatever came beside it, and nobody else's; never prints the key", async () => {
    const { ws, db, ask } = await setup();
    await ask('first', { authorization: `Bearer ${ALICE}` });
    await ask('second', { 'x-api-key': ALICE });
    // What the OpenAI SDK sends with OPENAI_ORG_ID / OPENAI_PROJECT_ID set: another tenant, same key.
    await ask('third', {
      authorization: `Bearer ${ALICE}`,
      'openai-organization': 'org-1',
      'openai-project': 'p',
    });
    await ask('fourth', { authorization: 'Bearer placeholder' }, `?api_key=${ALICE}`);
    await ask('fifth', { authorization: `Basic ${ALICE}` });
    await ask('sixth', { authorization: `Basic ${btoa(`user:${ALICE}`)}` });
    await ask('first', { authorization: `Bearer ${BOB}` });
    await ask('first', { authorization: `Bearer ${BOB}`, 'openai-organization': 'org-1' });
    expect(entryRows(db)).toBe(8);

    const result = await cli('clear', '--tenant-key-env', 'CLEAR_TEST_ALICE', '--config', ws.config);
    expect(result).toMatchObject({
      code: 0,
      out: ['removed 6 entries stored for that key (counted across tiers)'],
    });
    expect([...result.out, ...result.err].join('\n')).not.toContain(ALICE);
    expect(entryRows(db)).toBe(2);
    expect(await ask('first', { authorization: `Bearer ${ALICE}` })).toBe('miss');
    expect(await ask('first', { authorization: `Bearer ${BOB}` })).toBe('hit');
  });

  it('a variable that is not set or empty is exit 2, naming it; so is mixing it with another choice', async () => {
    const { ws } = await setup();
    const unset = await cli('clear', '--tenant-key-env', 'CLEAR_TEST_NOBODY', '--config', ws.config);
    expect(unset.code).toBe(2);
    expect(unset.err.join('\n')).toContain('the environment variable CLEAR_TEST_NOBODY is not set or empty');
    process.env.CLEAR_TEST_EMPTY = ' ';
    try {
      const empty = await cli('clear', '--tenant-key-env', 'CLEAR_TEST_EMPTY', '--config', ws.config);
      expect(empty.code).toBe(2);
    } finally {
      delete process.env.CLEAR_TEST_EMPTY;
    }
    const mixed = await cli('clear', '--tenant-key-env', 'CLEAR_TEST_ALICE', '--all', '--config', ws.config);
    expect(mixed.code).toBe(2);
    expect(mixed.err.join('\n')).toContain('without --namespace, --tag or --all');
  });

  it('on a shared gateway, removes the entries requests with that key stored', async () => {
    const { ws, db, ask } = await setup({ tenant: 'shared' });
    await ask('shared one', { authorization: `Bearer ${ALICE}` });
    await ask('shared two', { authorization: `Bearer ${BOB}` });
    const result = await cli('clear', '--tenant-key-env', 'CLEAR_TEST_ALICE', '--config', ws.config);
    expect(result.code).toBe(0);
    expect(entryRows(db)).toBe(1);
    expect(await ask('shared two', { authorization: `Bearer ${ALICE}` })).toBe('hit');
  });

  it('a tier that could not clear is named, exit 1, and the entries are still there', async () => {
    const { ws, db, ask } = await setup();
    await ask('locked out', { authorization: `Bearer ${ALICE}` });
    cleanups.push(holdExclusiveLock(db));
    const result = await cli('clear', '--tenant-key-env', 'CLEAR_TEST_ALICE', '--config', ws.config);
    expect(result.code).toBe(1);
    const err = result.err.join('\n');
    expect(err).toMatch(/strata clear: tier sqlite: not done, its entries are still there \(.*locked/);
    // Named once, though each of the key's tags failed.
    expect(err.match(/tier sqlite: not done/g)).toHaveLength(1);
    for (const c of cleanups.splice(0)) c();
    expect(entryRows(db)).toBe(1);
  });

  it("without the gateway's digest key, says so (exit 2) rather than remove nothing", async () => {
    const { ws } = await setup();
    const { STRATA_DIGEST_KEY: _, ...env } = process.env;
    const failure = await runTs(
      join(ROOT, 'src', 'cli', 'main.ts'),
      ['clear', '--tenant-key-env', 'CLEAR_TEST_ALICE', '--config', ws.config],
      { env },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toContain("run it with the gateway's STRATA_DIGEST_KEY");
  });
});
