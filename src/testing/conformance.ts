/**
 * The tier conformance suite: what every tier, present and future, must do.
 *
 * Each case drives the tier through a real Manager (as production does), so what is checked is
 * what an application sees: decoding, key checks, expiry and corrupt-entry handling included.
 */
import { afterEach, beforeEach, describe, expect, it as vitestIt } from 'vitest';
import { DEFAULT_BREAKER } from '../core/breaker.js';
import { ManualClock } from '../core/clock.js';
import { decodeEntry, type StoredGenerationData } from '../core/entry.js';
import { type CacheKey, deriveKey } from '../core/key.js';
import { Manager } from '../core/manager.js';
import type { Tier } from '../core/tier.js';

export interface TierHarness {
  tier: Tier;
  /** Overwrites the stored bytes of a key directly in the backend. */
  corrupt(key: CacheKey, bytes: string): Promise<void> | void;
  /** Lets `ms` pass for the tier: moves the clock, and sleeps too where the backend keeps its own time. */
  advance?(ms: number): Promise<void> | void;
  /** Removes whatever the harness created (files, databases). The tier is closed by the suite. */
  cleanup?(): Promise<void> | void;
  /** A similarity tier: a casing variant of a stored prompt is a hit rather than a miss. */
  similar?: boolean;
  /** Appended to every prompt, for a backend that cannot be emptied between cases (GPTCache). */
  promptSalt?: string;
}

export type TierFactory = (clock: ManualClock) => Promise<TierHarness>;

/**
 * What a backend cannot do. The cases that need it are left out of that tier's suite (not
 * skipped: they do not apply), and the tier's README section says which and why.
 *   delete      remove one entry              overwrite   a second write replaces the first
 *   scopedKeys  one prompt under several namespaces / llm strings at once
 *   exactKeys   an unrelated or misfiled entry is never served for a prompt
 *   clear, tags, purge, list, stats            bulk removal, tag invalidation, expiry purge, listing, counts
 */
export type Capability =
  | 'delete'
  | 'overwrite'
  | 'scopedKeys'
  | 'exactKeys'
  | 'clear'
  | 'tags'
  | 'purge'
  | 'list'
  | 'stats';

const LLM = '_model:"base_chat_model",_type:"fake-list",temperature:0';

function answer(text: string): StoredGenerationData[] {
  return [
    {
      text,
      message: {
        type: 'ai',
        data: {
          content: text,
          tool_calls: [{ name: 'lookup', args: { q: text.slice(0, 20) }, id: 'call_1', type: 'tool_call' }],
          usage_metadata: { input_tokens: 12, output_tokens: 34, total_tokens: 46 },
          response_metadata: { finish_reason: 'stop' },
          additional_kwargs: {},
        },
      },
    },
  ];
}

export function describeTierConformance(
  name: string,
  factory: TierFactory,
  options: { lacks?: Capability[] } = {},
): void {
  const lacks = new Set(options.lacks);
  /** A case that needs every one of `needs`: registered only for tiers that have them. */
  const it = (title: string, needs: Capability[], test: () => Promise<void>) => {
    if (needs.every((n) => !lacks.has(n))) vitestIt(title, test);
  };
  describe(`tier conformance: ${name}`, () => {
    let clock: ManualClock;
    let harness: TierHarness;
    let manager: Manager;

    beforeEach(async () => {
      clock = new ManualClock(Date.now());
      harness = await factory(clock);
      manager = new Manager(
        [{ tier: harness.tier, options: { timeoutMs: 10_000, breaker: DEFAULT_BREAKER } }],
        {
          clock,
          coalesceWaitMs: 0,
          storePrompt: true,
          logger: { warn: () => {} },
        },
      );
    });

    afterEach(async () => {
      await manager.close();
      await harness.cleanup?.();
    });

    const key = (prompt: string, ns = 'conformance', llm = LLM) =>
      deriveKey(ns, llm, prompt + (harness.promptSalt ?? ''));
    const textOf = async (k: CacheKey) => (await manager.lookup(k))?.entry.gens[0]?.text;
    const advance = async (ms: number) => {
      if (harness.advance) await harness.advance(ms);
      else clock.advance(ms);
    };

    it('misses an unknown key', [], async () => {
      expect(await manager.lookup(key('never stored'))).toBeUndefined();
    });

    it('stores, returns and deletes an entry with its message intact', ['delete'], async () => {
      const k = key('What is a write-ahead log?');
      await manager.update(k, answer('A log written before the data.'));
      const hit = await manager.lookup(k);
      expect(hit?.entry.gens).toEqual(answer('A log written before the data.'));
      expect(await manager.delete(k)).toBe(1);
      expect(await manager.lookup(k)).toBeUndefined();
    });

    it('overwrites an entry', ['overwrite'], async () => {
      const k = key('overwrite me');
      await manager.update(k, answer('old'));
      await manager.update(k, answer('new'));
      expect(await textOf(k)).toBe('new');
    });

    it('keeps keys apart by prompt, llm string and namespace', ['scopedKeys'], async () => {
      await manager.update(key('same'), answer('base'));
      await manager.update(key('same', 'other-ns'), answer('other namespace'));
      await manager.update(key('same', 'conformance', `${LLM},maxTokens:5`), answer('other model'));
      expect(await textOf(key('same'))).toBe('base');
      expect(await textOf(key('same', 'other-ns'))).toBe('other namespace');
      expect(await textOf(key('same', 'conformance', `${LLM},maxTokens:5`))).toBe('other model');
      // An exact tier misses a casing variant; a similarity tier answers it with the same entry.
      expect(await textOf(key('Same'))).toBe(harness.similar ? 'base' : undefined);
    });

    it(
      'stores namespaces, tags and prompts with metacharacters byte-exact and keeps them apart',
      ['scopedKeys', 'clear', 'tags', 'list'],
      async () => {
        const weird = ["'; DROP TABLE x; --", 'a:b*c?[d]{e}\\f', 'nul\u0000byte 🚀', '%41'];
        for (const ns of weird) {
          await manager.update(key(`prompt in ${ns} \\ \u0000 😀`, ns), answer(`answer for ${ns}`), {
            tags: [ns, '*'],
          });
        }
        await manager.update(key('plain', 'A'), answer('namespace A'));
        for (const ns of weird)
          expect(await textOf(key(`prompt in ${ns} \\ \u0000 😀`, ns))).toBe(`answer for ${ns}`);
        const listed = [];
        for await (const e of harness.tier.entries(weird[1])) listed.push(e.namespace);
        expect(listed).toEqual([weird[1]]);
        expect(await manager.clear(weird[1])).toBe(1);
        expect(await textOf(key(`prompt in ${weird[1]} \\ \u0000 😀`, weird[1]))).toBeUndefined();
        expect(await manager.invalidateTag(weird[0]!, weird[0])).toBe(1);
        expect(await textOf(key(`prompt in ${weird[0]} \\ \u0000 😀`, weird[0]))).toBeUndefined();
        expect(await manager.invalidateTag('*')).toBe(2);
        expect(await textOf(key('plain', 'A'))).toBe('namespace A');
      },
    );

    it('expires entries after their TTL and purges them', ['purge', 'list'], async () => {
      const k = key('short-lived');
      const unread = key('short-lived, never read again');
      const kept = key('long-lived');
      await manager.update(k, answer('soon gone'), { ttlMs: 1_000 });
      await manager.update(unread, answer('soon gone too'), { ttlMs: 1_000 });
      await manager.update(kept, answer('stays'), { ttlMs: 600_000 });
      expect(await textOf(k)).toBe('soon gone');
      await advance(1_500);
      // The tier itself stops serving it (not only the manager's check of the envelope)...
      expect(await harness.tier.get(k)).toBeFalsy();
      expect(await manager.lookup(k)).toBeUndefined();
      // ...and its purge removes what no lookup touched.
      await manager.purgeExpired();
      const listed = [];
      for await (const e of harness.tier.entries('conformance')) listed.push(e.hash);
      expect(listed).toEqual([kept.hash]);
      expect(await textOf(kept)).toBe('stays');
    });

    it(
      'replacePayload (when the tier has it) replaces only what it still holds, keeping tags',
      ['tags', 'delete', 'overwrite', 'list'],
      async () => {
        const tier = harness.tier;
        if (!tier.replacePayload) return;
        const payloadOf = async (k: CacheKey) => {
          for await (const e of tier.entries('conformance')) if (e.hash === k.hash) return e.payload;
          throw new Error(`${k.hash} is not listed`);
        };
        const k = key('rekey me');
        await manager.update(k, answer('second'), { tags: ['rekey'] });
        const second = await payloadOf(k);
        await manager.update(k, answer('first'), { tags: ['rekey'] });
        const first = await payloadOf(k);
        // Not what it holds: nothing changes.
        expect(await tier.replacePayload(k, second, second)).toBe(false);
        expect(await textOf(k)).toBe('first');
        expect(await tier.replacePayload(k, first, second)).toBe(true);
        expect(await textOf(k)).toBe('second');
        // Its tags are its own still.
        expect(await manager.invalidateTag('rekey', 'conformance')).toBe(1);
        // Deleted meanwhile: it does not come back.
        expect(await tier.replacePayload(k, second, first)).toBe(false);
        expect(await manager.lookup(k)).toBeUndefined();
      },
    );

    it('invalidates by tag, optionally within one namespace', ['tags', 'scopedKeys'], async () => {
      await manager.update(key('a1'), answer('a1'), { tags: ['pricing', 'faq'] });
      await manager.update(key('a2'), answer('a2'), { tags: ['pricing'] });
      await manager.update(key('b1'), answer('b1'), { tags: ['faq'] });
      await manager.update(key('a1', 'tenant-2'), answer('t2'), { tags: ['pricing'] });
      expect(await manager.invalidateTag('pricing', 'conformance')).toBe(2);
      expect(await textOf(key('a1'))).toBeUndefined();
      expect(await textOf(key('a2'))).toBeUndefined();
      expect(await textOf(key('b1'))).toBe('b1');
      expect(await textOf(key('a1', 'tenant-2'))).toBe('t2');
      expect(await manager.invalidateTag('pricing')).toBe(1);
      expect(await textOf(key('a1', 'tenant-2'))).toBeUndefined();
    });

    it('clears one namespace, then all', ['clear'], async () => {
      for (let i = 0; i < 5; i++) await manager.update(key(`q${i}`, 'ns-a'), answer(`a${i}`));
      for (let i = 0; i < 3; i++) await manager.update(key(`q${i}`, 'ns-b'), answer(`b${i}`));
      expect(await manager.clear('ns-a')).toBe(5);
      expect(await textOf(key('q0', 'ns-a'))).toBeUndefined();
      expect(await textOf(key('q0', 'ns-b'))).toBe('b0');
      expect(await manager.clear()).toBe(3);
      expect(await textOf(key('q2', 'ns-b'))).toBeUndefined();
    });

    it('round-trips a value larger than 5 MB byte-exact', [], async () => {
      const big = `${'长'.repeat(1_000_000)}${'x'.repeat(3_000_000)}🚀end`;
      expect(Buffer.byteLength(big)).toBeGreaterThan(5 * 1024 * 1024);
      const k = key('give me a very long answer');
      await manager.update(k, [{ text: big }]);
      expect((await manager.lookup(k))?.entry.gens[0]?.text).toBe(big);
    });

    it('handles Chinese and emoji prompts as distinct, exact keys', ['exactKeys'], async () => {
      const prompts = [
        '如何安装Redis？',
        '如何卸载Redis？',
        'Résumé 🚀🔥 naïve',
        'Résumé 🚀🔥 naive',
        '𠜎𠜱𠝹 4-byte',
      ];
      for (const p of prompts) await manager.update(key(p), answer(`answer to ${p}`));
      for (const p of prompts) expect(await textOf(key(p))).toBe(`answer to ${p}`);
      if (lacks.has('list')) return;
      const listed = [];
      for await (const e of harness.tier.entries('conformance')) listed.push(decodeEntry(e.payload)?.prompt);
      expect(listed.sort()).toEqual([...prompts].sort());
    });

    it(
      'serves concurrent sets and gets without losing or mixing entries',
      ['exactKeys', 'overwrite'],
      async () => {
        const keys = Array.from({ length: 200 }, (_, i) => key(`concurrent ${i}`));
        await Promise.all(keys.map((k, i) => manager.update(k, answer(`value ${i}`))));
        const texts = await Promise.all(keys.map((k) => textOf(k)));
        expect(texts).toEqual(keys.map((_, i) => `value ${i}`));
        const hot = key('hot key');
        const writers = Array.from({ length: 50 }, (_, i) => manager.update(hot, answer(`writer ${i}`)));
        const readers = Array.from({ length: 50 }, () => textOf(hot));
        await Promise.all(writers);
        for (const text of await Promise.all(readers))
          if (text !== undefined) expect(text).toMatch(/^writer \d+$/);
        expect(await textOf(hot)).toMatch(/^writer \d+$/);
      },
    );

    it('treats corrupt stored bytes as a miss, counts and removes them', ['delete'], async () => {
      const k = key('about to be corrupted');
      await manager.update(k, answer('fine'));
      await harness.corrupt(k, '{"v":1,"k":"truncated');
      expect(await manager.lookup(k)).toBeUndefined();
      const stats = await manager.stats();
      expect(stats.tiers[0]?.corrupt).toBe(1);
      await new Promise((r) => setTimeout(r, 50));
      expect((await harness.tier.get(k)) ?? undefined).toBeUndefined();
      await harness.corrupt(k, JSON.stringify({ v: 99, anything: true }));
      expect(await manager.lookup(k)).toBeUndefined();
    });

    it(
      'refuses an entry stored under another key (misfiled bytes are not an answer)',
      ['exactKeys'],
      async () => {
        const a = key('question A');
        const b = key('question B');
        await manager.update(a, answer('answer A'));
        const stored = await harness.tier.get(a);
        await manager.update(b, answer('answer B'));
        await harness.corrupt(b, typeof stored === 'string' ? stored : stored!.payload);
        expect(await manager.lookup(b)).toBeUndefined();
        expect(await textOf(a)).toBe('answer A');
      },
    );

    it('reports entries and bytes, and lists entries for export', ['stats', 'list'], async () => {
      await manager.update(key('s1'), answer('one'), { tags: ['t'] });
      await manager.update(key('s2', 'ns-other'), answer('two'));
      const stats = await harness.tier.stats();
      expect(stats.entries).toBe(2);
      expect(stats.bytes).toBeGreaterThan(100);
      const listed = [];
      for await (const e of harness.tier.entries('conformance')) listed.push(e);
      expect(listed).toHaveLength(1);
      expect(listed[0]?.hash).toBe(key('s1').hash);
      expect(decodeEntry(listed[0]!.payload)?.tags).toEqual(['t']);
      expect((await harness.tier.health()).status).toBe('up');
    });
  });
}
