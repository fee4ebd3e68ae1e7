/**
 * The gateway's `encryption: "per-tenant"` through the real gateway, the fake upstream and a
 * SQLite tier: each caller's entries are sealed under a key derived from its own credential (and
 * the master key), so the file holds no prompt or answer, and no other credential opens them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.js';
import { parseConfig, type StrataConfig } from '../config/schema.js';
import { entryAad } from '../core/encryption/at-rest.js';
import { Keyring, sealedKeyId } from '../core/encryption/keyring.js';
import { TenantKeys } from '../core/encryption/tenant.js';
import type { StrataConfigError } from '../errors.js';
import { createProxy, type StrataProxy } from './index.js';
import { credentialPart } from './tenancy.js';

const KEY_ENV = 'STRATA_TEST_PER_TENANT_MASTER';
const ALICE = 'sk-alice-0123456789abcdefghij';
const BOB = 'sk-bob-0123456789abcdefghijkl';
const MASTER = randomBytes(32).toString('base64');

let fake: FakeLlm;
let dir: string;
beforeAll(async () => {
  fake = await startFakeLlm();
  dir = mkdtempSync(join(tmpdir(), 'strata-per-tenant-'));
});
afterAll(async () => {
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Gw {
  url: string;
  proxy: StrataProxy;
  close(): Promise<void>;
}

async function start(
  path: string,
  master: string | undefined,
  extra: Partial<StrataConfig> = {},
): Promise<Gw> {
  const config: StrataConfig = {
    tiers: [{ type: 'sqlite', path }],
    ...(master === undefined ? {} : { encryption: { keys: [{ id: 'k1', keyEnv: KEY_ENV }], active: 'k1' } }),
    ...extra,
    proxy: { port: 0, upstreams: [{ url: fake.url, api: 'openai' }], encryption: 'per-tenant' },
  };
  const env = { ...process.env, ...(master === undefined ? {} : { [KEY_ENV]: master }) };
  const proxy = await createProxy(config, { env, logger: { warn: () => {} } });
  const url = await proxy.listen();
  return { url, proxy, close: () => proxy.close(500) };
}

async function ask(gw: Gw, apiKey: string | undefined, question: string) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` }),
    },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] }),
  });
  const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
  return {
    status: res.status,
    cache: res.headers.get('x-strata-cache'),
    text: body.choices[0]!.message.content,
  };
}

/** Every byte SQLite keeps for this file: the database, its WAL and shared memory. */
function fileBytes(path: string): Buffer {
  return Buffer.concat(
    [path, `${path}-wal`, `${path}-shm`].filter((p) => existsSync(p)).map((p) => readFileSync(p)),
  );
}

interface Row {
  key_hash: string;
  namespace: string;
  response: string;
  prompt: string | null;
  metadata: string | null;
}

function rows(path: string): Row[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare('SELECT key_hash, namespace, response, prompt, metadata FROM cache_entries')
      .all() as Row[];
  } finally {
    db.close();
  }
}

describe('gateway per-tenant keys', () => {
  const master = MASTER;

  it('serves each tenant its own answer, and the file holds neither prompt nor answer', async () => {
    const path = join(dir, 'own.db');
    const gw = await start(path, master);
    const canary = `CANARY-${randomBytes(8).toString('hex')} what is our churn forecast?`;
    try {
      const a = await ask(gw, ALICE, canary);
      const b = await ask(gw, BOB, canary);
      expect([a.cache, b.cache]).toEqual(['miss', 'miss']);
      expect(a.text).not.toBe(b.text);
      expect(await ask(gw, ALICE, canary)).toMatchObject({ cache: 'hit', text: a.text });
      expect(await ask(gw, BOB, canary)).toMatchObject({ cache: 'hit', text: b.text });
      await gw.proxy.strata.flushWrites();
      const bytes = fileBytes(path);
      expect(bytes.includes(Buffer.from('CANARY-'))).toBe(false);
      expect(bytes.includes(Buffer.from('churn forecast'))).toBe(false);
      expect(bytes.includes(Buffer.from(a.text))).toBe(false);
      const stored = rows(path);
      expect(stored).toHaveLength(2);
      for (const r of stored) {
        expect(sealedKeyId(r.response)).toBe('t-k1');
        expect(r.prompt).toBeNull();
      }
    } finally {
      await gw.close();
    }
  });

  it("one tenant's credential cannot open another's entry, moved into its own row: a miss", async () => {
    const path = join(dir, 'moved.db');
    const gw = await start(path, master);
    const question = 'Which accounts are at risk this quarter?';
    try {
      const a = await ask(gw, ALICE, question);
      const b = await ask(gw, BOB, question);
      await gw.proxy.strata.flushWrites();
      // Which row is Alice's: the one Alice's own derived key opens.
      const all = rows(path);
      const rowA = all.find((r) => sealerOf(ALICE).open(r.response, entryAad(r.namespace, r.key_hash)))!;
      const rowB = all.find((r) => r !== rowA)!;
      expect(rowA.namespace).not.toBe(rowB.namespace);
      // Bob's own key, at Alice's very row: does not open.
      expect(sealerOf(BOB).open(rowA.response, entryAad(rowA.namespace, rowA.key_hash))).toBeUndefined();
      // Alice's payload copied into Bob's row: Bob's next request misses, never gets Alice's answer.
      const db = new Database(path);
      db.prepare('UPDATE cache_entries SET response = ? WHERE key_hash = ?').run(
        rowA.response,
        rowB.key_hash,
      );
      db.close();
      const calls = fake.count();
      const again = await ask(gw, BOB, question);
      expect(again.cache).toBe('miss');
      expect(again.text).not.toBe(a.text);
      expect(again.text).not.toBe(b.text);
      expect(fake.count()).toBe(calls + 1);
      expect(await ask(gw, ALICE, question)).toMatchObject({ cache: 'hit', text: a.text });
    } finally {
      await gw.close();
    }
  });

  it('after a restart the same callers hit; another key of the same scheme, or another master key, misses', async () => {
    const path = join(dir, 'restart.db');
    const question = 'Draft the renewal email for Initech';
    let first = await start(path, master);
    const a = await ask(first, ALICE, question);
    await first.close();

    first = await start(path, master);
    try {
      expect(await ask(first, ALICE, question)).toMatchObject({ cache: 'hit', text: a.text });
      const other = await ask(first, `${ALICE}-rotated`, question);
      expect(other.cache).toBe('miss');
      expect(other.text).not.toBe(a.text);
    } finally {
      await first.close();
    }

    // The caller's key alone is not enough: under another master key Alice's entry does not open.
    const stranger = await start(path, randomBytes(32).toString('base64'));
    try {
      const miss = await ask(stranger, ALICE, question);
      expect(miss.cache).toBe('miss');
      expect(miss.text).not.toBe(a.text);
    } finally {
      await stranger.close();
    }
  });

  it('without master keys, the credential alone derives the key (t-none)', async () => {
    const path = join(dir, 'no-master.db');
    const gw = await start(path, undefined);
    try {
      const a = await ask(gw, ALICE, 'Summarise ticket 4411');
      expect(await ask(gw, ALICE, 'Summarise ticket 4411')).toMatchObject({ cache: 'hit', text: a.text });
      expect((await ask(gw, BOB, 'Summarise ticket 4411')).cache).toBe('miss');
      await gw.proxy.strata.flushWrites();
      for (const r of rows(path)) expect(sealedKeyId(r.response)).toBe('t-none');
      expect(fileBytes(path).includes(Buffer.from('ticket 4411'))).toBe(false);
    } finally {
      await gw.close();
    }
  });

  it('a request without a credential is still never cached', async () => {
    const path = join(dir, 'anonymous.db');
    const gw = await start(path, master);
    try {
      expect((await ask(gw, undefined, 'Who am I?')).cache).toBe('bypass');
      expect((await ask(gw, undefined, 'Who am I?')).cache).toBe('bypass');
      expect(rows(path)).toHaveLength(0);
    } finally {
      await gw.close();
    }
  });

  it('needs tenant: "credential", and says so naming the field', () => {
    const issues = (tenant: unknown) => {
      try {
        parseConfig({
          tiers: [{ type: 'memory' }],
          proxy: { upstreams: [{ url: 'https://x', api: 'openai' }], tenant, encryption: 'per-tenant' },
        } as StrataConfig);
        return [];
      } catch (error) {
        return (error as StrataConfigError).issues.map((i) => `${i.path}: ${i.message}`);
      }
    };
    expect(issues('credential')).toEqual([]);
    expect(issues('shared')).toEqual([
      expect.stringMatching(/^proxy\.encryption: "per-tenant" .* needs tenant: "credential"/),
    ]);
    expect(issues({ header: 'x-team' })).toEqual([expect.stringMatching(/^proxy\.encryption: /)]);
  });
});

/** The sealer the gateway derives for a caller presenting `Authorization: Bearer <apiKey>`. */
function sealerOf(apiKey: string) {
  const ring = Keyring.fromConfig(
    { keys: [{ id: 'k1', keyEnv: KEY_ENV }], active: 'k1' },
    { [KEY_ENV]: MASTER },
  );
  return new TenantKeys(ring).sealerFor([credentialPart('authorization', `Bearer ${apiKey}`)!]);
}
