/** `strata stats` shows what a semantic tier under `maxErrorRate` has learned (read from its file). */
import { describe, expect, it } from 'vitest';
import { cli, cliWorkspaces } from '../../test/support/cli.js';
import { loadConfig } from '../config/load.js';
import { createCache } from '../langchain/create.js';

const { workspace } = cliWorkspaces('strata-cli-bound-');
const ANSWER = 'Open Settings, choose Email, type the new address and confirm it with the link we send.';

describe('strata stats with a semantic bound', () => {
  it('lists the bound, the labels learned and that it serves nothing yet', async () => {
    const ws = workspace([
      { type: 'semantic', embeddings: 'lexical', path: 'semantic.db', maxErrorRate: 0.01 },
    ]);
    const cache = await createCache(loadConfig(ws.config), { logger: { warn: () => {} } });
    for (const q of [
      'How do I change the email on my account?',
      'How can I change the email on my account?',
      'How would I change the email on my account?',
    ]) {
      expect(await cache.lookup(q, 'llm')).toBeNull();
      await cache.update(q, 'llm', [{ text: ANSWER }]);
    }
    await cache.close();
    const result = await cli('stats', '--config', ws.config);
    expect(result.code).toBe(0);
    const out = result.out.join('\n');
    expect(out).toMatch(/namespace +bound +error rate \[95%\] +cutoff +labels/);
    expect(out).toMatch(/semantic +app +1\.00% +learning: serves nothing yet +- +free 2, exploration 0/);
    const json = JSON.parse((await cli('stats', '--config', ws.config, '--json')).out.join('\n'));
    expect(json.tiers[0].store.bound.app).toMatchObject({ maxErrorRate: 0.01, labels: { free: 2 } });
  });
});
