/**
 * What a gateway entry stores of its request: a prompt longer than STORED_PROMPT_CHARS is kept as
 * its SHA-256 (`ph`) and a bounded excerpt, in the payload and in the tier's prompt column alike,
 * so a request of megabytes stores a few kB of prompt. The key hash still covers the whole prompt:
 * a read is checked against it, and a long request is still a hit, from any tier.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliWorkspaces } from '../../test/support/cli.js';
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.js';
import { startGateway } from '../../test/support/gateway.js';
import { decodeEntry, type Entry, promptExcerpt, STORED_PROMPT_CHARS } from '../core/entry.js';
import { hashKey, hashPrompt } from '../core/key.js';
import { openaiChat } from './endpoints/openai-chat.js';

const { workspace, tempDir } = cliWorkspaces('strata-stored-prompt-');
let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(async () => {
  await fake?.close();
});

/** A chat request with a long document in its system prompt (~`kb` kB) and a short question. */
function request(kb: number, question: string) {
  return {
    model: 'gpt-4o-mini',
    messages: [
      {
        role: 'system' as const,
        content: `Answer from this manual. ${'The relay restarts after a fault. '.repeat(kb * 30)}`,
      },
      { role: 'user' as const, content: question },
    ],
  };
}

/** The same text with one sentence in its middle ending otherwise. */
function middleChanged(text: string): string {
  const at = text.indexOf('. The', text.length >> 1);
  return `${text.slice(0, at)}!${text.slice(at + 1)}`;
}

async function ask(url: string, body: object): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-stored-prompt-user' },
    body: JSON.stringify(body),
  });
}

function sqliteRows(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT prompt, response FROM cache_entries').all() as Array<{
      prompt: string | null;
      response: string;
    }>;
  } finally {
    db.close();
  }
}

describe('the prompt a gateway entry stores', () => {
  it('is a digest and an excerpt for a long request: a few kB in the file and the export, and still a hit', async () => {
    const dir = tempDir();
    const db = join(dir, 'cache.db');
    const tiers = [{ type: 'memory' as const }, { type: 'sqlite' as const, path: db }];
    const long = request(1_000, 'When does the relay restart?');
    const prompt = openaiChat.canonical(long, {}).prompt;
    expect(prompt.length).toBeGreaterThan(1_000_000);

    const gw = await startGateway({ fake, tiers });
    try {
      expect((await ask(gw.url, long)).headers.get('x-strata-cache')).toBe('miss');
      expect((await ask(gw.url, long)).headers.get('x-strata-cache')).toBe('hit');
    } finally {
      await gw.close();
    }

    const [row, ...others] = sqliteRows(db);
    expect(others).toHaveLength(0);
    expect(row!.prompt!.length).toBeLessThan(STORED_PROMPT_CHARS + 100);
    expect(row!.response.length).toBeLessThan(STORED_PROMPT_CHARS + 3_000);
    const entry = decodeEntry(row!.response)!;
    expect(entry.prompt).toBeUndefined();
    expect(entry.ph).toBe(hashPrompt(prompt));
    expect(entry.excerpt).toBe(promptExcerpt(prompt, STORED_PROMPT_CHARS));
    expect(row!.prompt).toBe(entry.excerpt);
    // The excerpt holds the request's start and its question; the key hash covers all of it.
    expect(entry.excerpt).toContain('"model":"gpt-4o-mini"');
    expect(entry.excerpt).toContain('When does the relay restart?');
    expect(entry.excerpt).toMatch(/…\[\d+ characters left out\]…/);
    expect(hashKey(entry.ns, entry.llm, prompt)).toBe(entry.k);

    // A new gateway on the same file: the long request is a hit from SQLite, read and verified.
    const again = await startGateway({ fake, tiers });
    try {
      const calls = fake.count();
      const res = await ask(again.url, long);
      expect(res.headers.get('x-strata-cache')).toBe('hit');
      expect(res.headers.get('x-strata-tier')).toBe('sqlite');
      // Another long request sharing the excerpt's start and end but not its middle is its own key.
      const other = request(1_000, 'When does the relay restart?');
      other.messages[0]!.content = middleChanged(other.messages[0]!.content);
      expect(promptExcerpt(openaiChat.canonical(other, {}).prompt, STORED_PROMPT_CHARS)).toBe(entry.excerpt);
      expect((await ask(again.url, other)).headers.get('x-strata-cache')).toBe('miss');
      expect(fake.count()).toBe(calls + 1);
    } finally {
      await again.close();
    }

    // The export line is as small, and is imported only from a file one trusts (as any `ph` line).
    const ws = workspace([{ type: 'sqlite', path: db }]);
    const file = join(dir, 'export.jsonl');
    expect((await cli('export', '--all', '--config', ws.config, '--file', file)).code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const long2 = lines.map((l) => JSON.parse(l) as Entry).find((e) => e.ph === hashPrompt(prompt));
    expect(long2?.excerpt).toBe(entry.excerpt);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(STORED_PROMPT_CHARS + 3_000);
    const target = workspace([{ type: 'sqlite', path: join(dir, 'imported.db') }]);
    expect((await cli('import', '--config', target.config, '--file', file)).code).not.toBe(0);
    const trusted = await cli('import', '--config', target.config, '--file', file, '--trust-hashes');
    expect(trusted.code, trusted.err.join('\n')).toBe(0);
  });

  it('is the whole prompt for a request of ordinary size, as before', async () => {
    const db = join(tempDir(), 'cache.db');
    const short = request(1, 'Is the relay safe?');
    const prompt = openaiChat.canonical(short, {}).prompt;
    expect(prompt.length).toBeLessThanOrEqual(STORED_PROMPT_CHARS);
    const gw = await startGateway({ fake, tiers: [{ type: 'sqlite', path: db }] });
    try {
      await ask(gw.url, short);
    } finally {
      await gw.close();
    }
    const [row] = sqliteRows(db);
    const entry = decodeEntry(row!.response)!;
    expect(entry.prompt).toBe(prompt);
    expect(entry.ph).toBeUndefined();
    expect(entry.excerpt).toBeUndefined();
    expect(row!.prompt).toBe(prompt);
  });

  it('is bounded in the semantic tier too, which still matches a paraphrase in a long context', async () => {
    const path = join(tempDir(), 'semantic.db');
    const gw = await startGateway({
      fake,
      tiers: [{ type: 'memory' }, { type: 'semantic', embeddings: 'lexical', path }],
    });
    try {
      const first = await ask(gw.url, request(200, 'How do I restart the relay after a fault?'));
      expect(first.headers.get('x-strata-cache')).toBe('miss');
      const calls = fake.count();
      const paraphrase = await ask(gw.url, request(200, 'how do i restart the relay after a fault'));
      expect(paraphrase.headers.get('x-strata-cache')).toBe('hit');
      expect(paraphrase.headers.get('x-strata-tier')).toBe('semantic');
      expect(fake.count()).toBe(calls);
      // A different long context with the same question is not matched.
      const elsewhere = request(200, 'how do i restart the relay after a fault');
      elsewhere.messages[0]!.content = middleChanged(elsewhere.messages[0]!.content);
      expect((await ask(gw.url, elsewhere)).headers.get('x-strata-cache')).toBe('miss');
    } finally {
      await gw.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare('SELECT length(prompt) AS chars, size FROM semantic_entries').all() as Array<{
        chars: number;
        size: number;
      }>;
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) {
        expect(r.chars).toBeLessThan(STORED_PROMPT_CHARS + 100);
        expect(r.size).toBeLessThan(STORED_PROMPT_CHARS + 3_000);
      }
    } finally {
      db.close();
    }
  });
});
