/**
 * Child process for the shared-file test: opens `rounds` new files `<prefix>-<n>.db`, each at the
 * same wall-clock moment as the other processes (`startAt` + n × 40 ms), so their first opens,
 * WAL switches and migrations race. `kind` is the tier that opens them: the SQLite tier or the
 * semantic tier's store. Prints the reasons of the opens that failed.
 */
import { systemClock } from '../../src/core/clock.js';
import { lexicalEmbedder } from '../../src/tiers/semantic/embedders/lexical.js';
import { SemanticTier } from '../../src/tiers/semantic/index.js';
import { SqliteTier } from '../../src/tiers/sqlite/index.js';

const [prefix, startAt, rounds, kind] = process.argv.slice(2);
const open = (path: string) =>
  kind === 'semantic'
    ? new SemanticTier({
        path,
        embedder: lexicalEmbedder(),
        threshold: 0.9,
        maxEntries: 1000,
        candidates: 5,
        guards: [],
        clock: systemClock,
      })
    : new SqliteTier({ path, busyTimeoutMs: 20_000, purgeIntervalMs: 0, clock: systemClock });
const failures: string[] = [];
for (let n = 0; n < Number(rounds); n++) {
  while (Date.now() < Number(startAt) + n * 40) {
    // spin: a timer would wake each process at a different moment
  }
  try {
    await open(`${prefix}-${n}.db`).close();
  } catch (error) {
    failures.push((error as Error).message);
  }
}
process.stdout.write(JSON.stringify({ failures }));
