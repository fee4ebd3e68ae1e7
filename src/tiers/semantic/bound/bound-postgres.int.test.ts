/**
 * A fleet on the shared store learns together: what one process of the fleet labels, another
 * serves from, with no labels of its own; the label log outlives both.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ANSWER, anchor, angledEmbedder, ask, question } from '../../../../test/support/bound.js';
import { service } from '../../../../test/support/services.js';
import { ManualClock } from '../../../core/clock.js';
import { SemanticTier } from '../index.js';
import { PostgresStore } from '../stores/postgres-store.js';

const url = service('postgres').STRATA_TEST_POSTGRES_URL!;
const prefix = `b${randomUUID().replaceAll('-', '').slice(0, 10)}_`;
const tiers: SemanticTier[] = [];
afterAll(async () => {
  await Promise.all(tiers.map((t) => t.close()));
  const raw = new pg.Pool({ connectionString: url, max: 1 });
  const { rows } = await raw.query<{ name: string }>(
    "SELECT tablename AS name FROM pg_tables WHERE tablename LIKE $1 || 'semantic_%'",
    [prefix],
  );
  for (const { name } of rows) await raw.query(`DROP TABLE IF EXISTS ${name}`);
  await raw.end();
});

/** One process of the fleet: its own pool, its own learner, the shared tables. */
function process(): SemanticTier {
  const embedder = angledEmbedder();
  const tier = new SemanticTier({
    embedder,
    threshold: 0.7,
    path: ':memory:',
    maxEntries: 1000,
    candidates: 5,
    guards: [],
    clock: new ManualClock(),
    maxErrorRate: 0.3,
    explorationBudget: 0,
    store: new PostgresStore({
      url,
      poolSize: 2,
      connectTimeoutMs: 2_000,
      tablePrefix: prefix,
      embedderId: embedder.id,
      maxEntries: 1000,
    }),
  });
  tiers.push(tier);
  return tier;
}

describe('semantic bound on the shared PostgreSQL store', () => {
  it('one process learns, another serves from what it learned; a newcomer reads it all', async () => {
    const a = process();
    const b = process();
    await anchor(a);
    for (let i = 0; i < 10; i++) expect(await ask(a, question(0.9), ANSWER)).toBe(false);
    // A learned at once from its own labels.
    expect(await ask(a, question(0.95), 'not asked')).toBe(true);
    // B has seen no miss, yet serves once it has read the shared log.
    await vi.waitFor(
      async () => {
        await b.settle();
        expect((await b.stats()).bound?.ns?.labels.free).toBe(10);
      },
      { timeout: 10_000, interval: 200 },
    );
    expect(await ask(b, question(0.95), 'not asked')).toBe(true);
    // A wrong label recorded by B (a client's word) reaches A.
    const hit = question(0.96);
    expect(await b.get(hit)).toBeDefined();
    expect(await b.markBad(hit)).toBe(true);
    await vi.waitFor(
      async () => {
        await a.settle();
        expect((await a.stats()).bound?.ns?.labels.feedback).toBe(1);
      },
      { timeout: 10_000, interval: 200 },
    );
    // A process started later reads the whole log.
    const c = process();
    await vi.waitFor(
      async () => {
        await c.settle();
        expect((await c.stats()).bound?.ns?.labels).toMatchObject({ free: 10, feedback: 1 });
      },
      { timeout: 10_000, interval: 200 },
    );
  });
});
