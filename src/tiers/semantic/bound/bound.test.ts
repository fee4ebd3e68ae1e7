/**
 * The semantic tier under `maxErrorRate`, on the real local store (SQLite), with questions at
 * known similarities from one anchor question (test/support/bound.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ANSWER,
  anchor,
  angledEmbedder,
  ask,
  LLM,
  question,
  stored,
} from '../../../../test/support/bound.js';
import { ManualClock } from '../../../core/clock.js';
import { Keyring } from '../../../core/encryption/keyring.js';
import { SemanticTier, type SemanticTierOptions } from '../index.js';
import type { JudgedPair } from './judge.js';

const dirs: string[] = [];
const tiers: SemanticTier[] = [];
afterEach(async () => {
  for (const t of tiers.splice(0)) await t.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tier(options: Partial<SemanticTierOptions> = {}): SemanticTier {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bound-'));
  dirs.push(dir);
  const t = new SemanticTier({
    embedder: angledEmbedder(),
    threshold: 0.7,
    path: join(dir, 'semantic.db'),
    maxEntries: 1000,
    candidates: 5,
    guards: [],
    clock: new ManualClock(),
    maxErrorRate: 0.3,
    explorationBudget: 0,
    random: () => 0.5,
    ...options,
  });
  tiers.push(t);
  return t;
}

/** Closes a tier (a process that stops) and gives the path of its file, for the next one. */
async function closed(t: SemanticTier): Promise<string> {
  tiers.splice(tiers.indexOf(t), 1);
  await t.close();
  return (t as unknown as { options: { path: string } }).options.path;
}

async function bound(t: SemanticTier, namespace = 'ns') {
  return (await t.stats()).bound?.[namespace];
}

describe('semantic tier under maxErrorRate', () => {
  it('serves nothing cold; learns from free labels of real misses; then serves', async () => {
    const t = tier();
    await anchor(t);
    // δ = 0.3 needs 7 right labels (one-sided 95%) and 10 near the cutoff.
    for (let i = 0; i < 9; i++) expect(await ask(t, question(0.9), ANSWER)).toBe(false);
    expect((await bound(t))?.labels.free).toBe(9);
    expect((await bound(t))?.errorRate).toBeNull();
    expect(await ask(t, question(0.9), ANSWER)).toBe(false);
    const learned = (await bound(t))!;
    expect(learned.cutoff).toBeGreaterThan(0.89);
    expect(learned.cutoff).toBeLessThanOrEqual(0.9);
    expect(learned.errorRate).toBe(0);
    expect(await ask(t, question(0.91), 'not asked')).toBe(true);
    const after = (await bound(t))!;
    expect(after).toMatchObject({ hits: 1, lookups: 11, maxErrorRate: 0.3, explorations: 0 });
    // Below everything it has seen, nothing.
    expect(await ask(t, question(0.8), ANSWER)).toBe(false);
  });

  it('never serves when the cached answer keeps being wrong for similar questions', async () => {
    const t = tier();
    await anchor(t);
    for (let i = 0; i < 40; i++)
      expect(
        await ask(t, question(0.95), `A different answer number ${i}, about something else entirely here.`),
      ).toBe(false);
    const b = (await bound(t))!;
    expect(b.labels.free).toBe(40);
    expect(b.cutoff).toBeNull();
    expect(b.hits).toBe(0);
  });

  it('a wrong label takes the entry out at once, even where the shared evidence is confident', async () => {
    let coin = 1;
    const t = tier({ explorationBudget: 1, random: () => coin });
    await anchor(t);
    // Twenty right labels: ten free ones, then ten explorations (the coin always says explore).
    for (let i = 0; i < 10; i++) expect(await ask(t, question(0.9), ANSWER)).toBe(false);
    coin = 0;
    for (let i = 0; i < 10; i++) expect(await ask(t, question(0.92), ANSWER)).toBe(false);
    coin = 1;
    expect((await bound(t))!.labels).toMatchObject({ free: 10, exploration: 10 });
    expect(await ask(t, question(0.92), ANSWER)).toBe(true);
    // Explored at 0.93, and the model answers otherwise: one wrong label.
    coin = 0;
    expect(
      await ask(t, question(0.93), 'Another answer altogether, about a different question than the anchor.'),
    ).toBe(false);
    coin = 1;
    expect((await bound(t))?.labels.exploration).toBe(11);
    expect(await ask(t, question(0.92), ANSWER)).toBe(false);
    expect(await ask(t, question(0.94), ANSWER)).toBe(false);
    // Much closer than the wrong one, it still answers.
    expect(await ask(t, question(0.97), ANSWER)).toBe(true);
  });

  it('markBad labels the answer wrong and takes the entry out of matching', async () => {
    const t = tier();
    await anchor(t);
    for (let i = 0; i < 10; i++) await ask(t, question(0.9), ANSWER);
    const hit = question(0.95);
    expect(await t.get(hit)).toBeDefined();
    expect(await t.markBad(hit)).toBe(true);
    expect((await bound(t))?.labels.feedback).toBe(1);
    expect(await ask(t, question(0.99), ANSWER)).toBe(false);
  });

  it('explores within the budget: the candidate goes to the model, is labelled and counted', async () => {
    const t = tier({ explorationBudget: 0.25, random: () => 0 });
    await anchor(t);
    for (let i = 0; i < 10; i++) await ask(t, question(0.9), ANSWER);
    const before = (await bound(t))!;
    expect(before.labels.exploration).toBe(0);
    let hits = 0;
    for (let i = 0; i < 40; i++) if (await ask(t, question(0.95), ANSWER)) hits++;
    const b = (await bound(t))!;
    expect(b.explorations).toBeGreaterThan(0);
    // Never more than the budget's share of lookups.
    expect(b.explorations).toBeLessThanOrEqual(0.25 * b.lookups);
    expect(b.labels.exploration).toBe(b.explorations);
    expect(hits).toBe(40 - b.explorations);
  });

  it('a client’s word on one answer counts once, however often it is repeated', async () => {
    const t = tier();
    await anchor(t);
    for (let i = 0; i < 10; i++) await ask(t, question(0.9), ANSWER);
    const hit = question(0.95);
    expect(await t.get(hit)).toBeDefined();
    expect(await t.markGood(hit)).toBe(true);
    for (let i = 0; i < 300; i++) expect(await t.markGood(hit)).toBe(false);
    expect((await bound(t))?.labels.feedback).toBe(1);
    // A new answer to the same question may be reported again.
    expect(await t.get(hit)).toBeDefined();
    expect(await t.markGood(hit)).toBe(true);
    expect((await bound(t))?.labels.feedback).toBe(2);
  });

  it('learns from identical questions, whose similarity is 1 plus float error, and keeps that label', async () => {
    const t = tier();
    await anchor(t);
    const key = question(1.0000002);
    expect(await ask(t, key, 'A different answer for the very same question, about something else.')).toBe(
      false,
    );
    expect((await bound(t))?.labels.free).toBe(1);
    const path = await closed(t);
    const again = tier({ path });
    await again.settle();
    expect((await bound(again))?.labels.free).toBe(1);
  });

  it('a judge that throws is unsure: the label is wrong, never right', async () => {
    const t = tier({
      judge: () => {
        throw new Error('judge broke');
      },
    });
    await anchor(t);
    for (let i = 0; i < 12; i++) expect(await ask(t, question(0.9), ANSWER)).toBe(false);
    const b = (await bound(t))!;
    expect(b.labels.free).toBe(12);
    expect(b.cutoff).toBeNull();
  });

  it('markGood labels the entry that answered (right); it is false for an answer this process did not serve', async () => {
    const t = tier();
    await anchor(t);
    for (let i = 0; i < 10; i++) await ask(t, question(0.9), ANSWER);
    const hit = question(0.95);
    expect(await t.get(hit)).toBeDefined();
    expect(await t.markGood(hit)).toBe(true);
    expect(await t.markGood(question(0.95))).toBe(false);
    const b = (await bound(t))!;
    expect(b.labels.feedback).toBe(1);
    expect(b.errorRate).toBe(0);
  });

  it('what it learned survives a restart (the label log is in the store’s file)', async () => {
    const first = tier();
    await anchor(first);
    for (let i = 0; i < 10; i++) await ask(first, question(0.9), ANSWER);
    const path = await closed(first);
    const second = tier({ path });
    await second.settle();
    expect((await bound(second))?.labels.free).toBe(10);
    expect(await ask(second, question(0.93), 'not asked')).toBe(true);
  });

  it('a model change starts afresh: another llm string has no evidence', async () => {
    const t = tier();
    await anchor(t);
    await anchor(t, 'ns', 'model-b');
    for (let i = 0; i < 10; i++) await ask(t, question(0.9), ANSWER);
    expect(await ask(t, question(0.95), ANSWER)).toBe(true);
    expect(await ask(t, question(0.95, 'ns', 'model-b'), ANSWER)).toBe(false);
  });

  it('namespaces without a bound keep the fixed threshold; per-namespace bounds apply', async () => {
    const t = tier({ maxErrorRate: undefined, maxErrorRates: { bounded: 0.3 }, threshold: 0.9 });
    await anchor(t, 'fixed');
    await anchor(t, 'bounded');
    expect(await ask(t, question(0.95, 'fixed'), ANSWER)).toBe(true);
    expect(await ask(t, question(0.95, 'bounded'), ANSWER)).toBe(false);
    const stats = (await t.stats()).bound!;
    expect(Object.keys(stats)).toEqual(['bounded']);
  });

  it('unsure pairs go to the background judge after the response; its verdict is labelled as background', async () => {
    const asked: JudgedPair[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const t = tier({
      judge: () => 'unsure',
      backgroundJudge: async (pair) => {
        asked.push(pair);
        await gate;
        return true;
      },
    });
    await anchor(t);
    const key = question(0.9);
    expect(await t.get(key)).toBeUndefined();
    // The store returns before the background judge has answered.
    await t.set(key, stored(key, 'A fresh answer the default judge would not be sure about at all.'));
    await vi.waitFor(() => expect(asked).toHaveLength(1));
    expect(asked[0]!.cached.text).toBe(ANSWER);
    expect((await bound(t))?.labels.background).toBe(0);
    release();
    await t.settle();
    expect((await bound(t))?.labels.background).toBe(1);
  });

  it('a background judge that throws leaves the pair unlabelled and is reported', async () => {
    const errors: Error[] = [];
    const t = tier({
      judge: () => 'unsure',
      backgroundJudge: () => {
        throw new Error('judge down');
      },
      onClientError: (e) => errors.push(e),
    });
    await anchor(t);
    await ask(t, question(0.9), ANSWER);
    const b = (await bound(t))!;
    expect(b.labels.background + b.labels.free).toBe(0);
    expect(errors.map((e) => e.message)).toEqual(['judge down']);
  });

  it('judges sealed payloads with the call’s keys (per-tenant encryption)', async () => {
    const sealer = new Keyring(new Map([['k', randomBytes(32)]]), 'k');
    const t = tier();
    await anchor(t, 'ns', LLM, sealer);
    for (let i = 0; i < 10; i++) expect(await ask(t, question(0.9), ANSWER, sealer)).toBe(false);
    expect((await bound(t))?.labels.free).toBe(10);
    expect(await ask(t, question(0.95), ANSWER, sealer)).toBe(true);
  });

  it('a lookup under other keys neither sees the sealed entry nor labels it', async () => {
    const sealer = new Keyring(new Map([['k', randomBytes(32)]]), 'k');
    const other = new Keyring(new Map([['k', randomBytes(32)]]), 'k');
    const t = tier();
    await anchor(t, 'ns', LLM, sealer);
    const key = question(0.9);
    await t.get(key, { sealer: other });
    await t.set(key, stored(key, ANSWER, other), { sealer: other });
    await t.settle();
    expect((await bound(t))?.labels.free ?? 0).toBe(0);
  });
});

describe('labels under encryption', () => {
  it('a label planted in the store without the keys is never learned', async () => {
    const sealer = new Keyring(new Map([['k', randomBytes(32)]]), 'k');
    const first = tier({ sealer });
    await anchor(first, 'ns', LLM, sealer);
    for (let i = 0; i < 10; i++) await ask(first, question(0.9), ANSWER, sealer);
    const path = await closed(first);
    // Someone who can write the file but has no keys adds a thousand "right" labels far down.
    const db = new Database(path);
    const [row] = db.prepare('SELECT * FROM semantic_labels LIMIT 1').all() as Array<Record<string, unknown>>;
    const plant = db.prepare(
      'INSERT INTO semantic_labels (embedder, scope, namespace, entry, similarity, wrong, source, at, proof) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)',
    );
    for (let i = 0; i < 1000; i++)
      plant.run(
        row!.embedder,
        row!.scope,
        row!.namespace,
        row!.entry,
        0.75,
        'free',
        i,
        i % 2 ? row!.proof : null,
      );
    db.close();
    const second = tier({ path, sealer });
    await second.settle();
    expect((await bound(second))?.labels.free).toBe(10);
    expect((await second.stats()).unprovenLabels).toBe(1000);
    expect(await ask(second, question(0.76), ANSWER, sealer)).toBe(false);
    expect(await ask(second, question(0.95), 'not asked', sealer)).toBe(true);
  });
});
