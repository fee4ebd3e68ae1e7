/**
 * SQLite-tier hit through StrataCache.lookup vs the floor: a raw better-sqlite3 prepared
 * primary-key SELECT of the same row on the same file (no key derivation, no decoding).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createCache, deriveKey } from '../src/index.js';
import { chatAnswer, compare, OPENAI_LIKE_LLM_KEY, prompts, report } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-bench-'));
const path = join(dir, 'bench.db');
const keys = prompts(10_000);
const strata = await createCache({ tiers: [{ type: 'sqlite', path }] });
for (let i = 0; i < keys.length; i++) await strata.update(keys[i]!, OPENAI_LIKE_LLM_KEY, chatAnswer(i));
const hashes = keys.map((k) => deriveKey('default', OPENAI_LIKE_LLM_KEY, k).hash);
const raw = new Database(path, { readonly: true });
const select = raw.prepare('SELECT response FROM cache_entries WHERE key_hash = ?').pluck();
if (!select.get(hashes[0]) || !(await strata.lookup(keys[0]!, OPENAI_LIKE_LLM_KEY)))
  throw new Error('benchmark setup: a lookup missed');

const results = await compare([
  { name: 'raw better-sqlite3 PK SELECT (floor)', op: (i) => select.get(hashes[i % hashes.length]) },
  {
    name: 'Strata SQLite tier, StrataCache.lookup',
    op: (i) => strata.lookup(keys[i % keys.length]!, OPENAI_LIKE_LLM_KEY),
  },
]);
report('sqlite: hit latency, 10,000 rows, WAL', results);
raw.close();
await strata.close();
rmSync(dir, { recursive: true, force: true });
