import { type Command, shown, stringFlag, table } from '../context.js';

/** `strata search "<text>" [--limit N]`: full-text search over cached prompts, in tiers that index them (MySQL, PostgreSQL). */
export const search: Command = async ({ positionals, flags, io, open }) => {
  const text = positionals.join(' ').trim();
  if (!text) {
    io.err('strata search: give words to look for, e.g. strata search "password reset"');
    return 2;
  }
  const { strata } = await open({ readonly: true });
  try {
    // Under encryption no tier keeps prompt text in clear, so there is nothing to search.
    if (strata.queries.sealer) {
      io.err(
        'strata search: this cache is encrypted at rest (config `encryption`), so its tiers keep no prompt text to search. ' +
          'Look up one prompt with `strata inspect` (docs/encryption.md)',
      );
      return 2;
    }
    if (strata.queries.able('search').length === 0) {
      io.err('strata search: no configured tier indexes prompt text (a mysql or postgres tier does)');
      return 2;
    }
    const limit = Number.parseInt(stringFlag(flags, 'limit') ?? '20', 10);
    const now = strata.now();
    const rows: Array<Array<string | number>> = [
      ['tier', 'key', 'namespace', 'model', 'age', 'hits', 'prompt'],
    ];
    const searched = await strata.queries.search(text, limit);
    const failed = searched.filter((s) => s.results === undefined).map((s) => s.tier);
    for (const { tier, results = [] } of searched) {
      for (const r of results) {
        rows.push([
          shown(tier),
          shown(r.hash.slice(0, 12)),
          shown(r.namespace),
          shown(r.llmString.length > 40 ? `${r.llmString.slice(0, 40)}…` : r.llmString),
          `${Math.round((now - r.createdAt) / 1000)}s`,
          r.accessCount,
          shown(r.prompt.length > 80 ? `${r.prompt.slice(0, 80)}…` : r.prompt),
        ]);
      }
    }
    // A tier that could not be searched is not a tier without matches.
    for (const tier of failed)
      io.err(`strata search: tier ${shown(tier)} could not be searched (it is down or failing)`);
    if (rows.length === 1 && failed.length === 0)
      io.out(`no cached prompt matches ${shown(JSON.stringify(text))}`);
    else if (rows.length > 1) for (const line of table(rows)) io.out(line);
    return failed.length > 0 ? 1 : 0;
  } finally {
    await strata.close();
  }
};
