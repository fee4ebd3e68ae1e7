/**
 * The failure drill every networked tier runs: a loop of lookups (and updates on a miss)
 * through a real StrataCache, the service's process SIGKILLed a quarter of the way in and
 * restarted halfway. No call may throw; the loop must see misses while the server is gone; and
 * the same cache (no app restart) must serve hits again afterwards.
 */
import { expect } from 'vitest';
import type { StrataCache } from '../../src/langchain/cache.js';
import { servicePid, services } from './services.js';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function killMidLoop(
  cache: StrataCache,
  target: { service: string; process: string },
  options: { calls?: number; salt?: string } = {},
): Promise<void> {
  const calls = options.calls ?? 2_000;
  const killAt = Math.floor(calls / 4);
  const restartAt = Math.floor(calls / 2);
  const prompt = (i: number) => `question ${i % 50}${options.salt ?? ''}`;
  let missesWhileDown = 0;
  let killed = 0;
  try {
    for (let i = 0; i < calls; i++) {
      if (i === killAt) {
        killed = servicePid(target.service, target.process);
        process.kill(killed, 'SIGKILL');
      }
      if (i === restartAt) {
        await expect.poll(() => isRunning(killed), { timeout: 10_000 }).toBe(false);
        services('start', target.service);
      }
      const hit = await cache.lookup(prompt(i), 'llm'); // must never throw
      if (!hit) {
        if (i >= killAt && i < restartAt) missesWhileDown++;
        await cache.update(prompt(i), 'llm', [{ text: `answer ${i % 50}` }]);
      }
    }
    expect(missesWhileDown).toBeGreaterThan(0);
    await expect
      .poll(async () => (await cache.lookup(prompt(7), 'llm'))?.[0]?.text, { timeout: 20_000, interval: 200 })
      .toBe('answer 7');
  } finally {
    services('start', target.service);
  }
}
