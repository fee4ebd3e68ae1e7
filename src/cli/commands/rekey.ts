/**
 * `strata rekey`: moves every persistent tier's sealed entries to the config's active key
 * (engine/rekey.ts), printing a progress line per tier every 1,000 entries. Run it while the
 * application serves: each rewrite is a compare-and-set, so nothing the application changes
 * meanwhile is undone. Interrupted, it is run again: what is done is skipped.
 *
 * Exit 0 when every tier ran to its end (entries it cannot move by design, per-tenant or under a
 * key the config lacks, are said, not failed); 1 when a tier could not be rekeyed, with why; 2
 * for a config without `encryption`.
 */
import { Keyring } from '../../core/encryption/keyring.js';
import { type RekeyTierReport, rekey } from '../../engine/rekey.js';
import { StrataConfigError } from '../../errors.js';
import { type Command, shown } from '../context.js';

export const rekeyCommand: Command = async ({ io, open, flags }) => {
  const { strata, config } = await open();
  try {
    const encryption = config.encryption;
    if (!encryption)
      throw new StrataConfigError([
        { path: 'encryption', message: 'is required to rekey: it names the keys and the active one' },
      ]);
    const keyring = Keyring.fromConfig(encryption);
    const only = typeof flags.tier === 'string' ? [flags.tier] : undefined;
    if (only && !strata.tierNames.includes(only[0]!))
      throw new StrataConfigError([{ path: '--tier', message: `no tier named ${JSON.stringify(only[0])}` }]);
    io.err(`strata rekey: moving entries to key ${shown(keyring.keyId)}`);
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    let report: Awaited<ReturnType<typeof rekey>>;
    try {
      report = await rekey(strata, {
        keyring,
        acceptPlaintext: encryption.acceptPlaintext === true,
        ...(only ? { tiers: only } : {}),
        signal: controller.signal,
        onProgress: (p) => io.err(progressLine(p)),
      });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    for (const t of report.tiers) for (const line of notes(t)) io.out(line);
    for (const t of report.tiers)
      if (t.failure !== undefined)
        io.err(
          `strata rekey: tier ${shown(t.tier)}: not rekeyed (${shown(t.failure)}); once that is fixed, run it again: what is done is skipped`,
        );
    if (report.tiers.some((t) => t.stopped))
      io.err('strata rekey: stopped; run it again to continue (what is done is skipped)');
    return report.complete ? 0 : 1;
  } finally {
    await strata.close();
  }
};

function progressLine(p: RekeyTierReport): string {
  const state = p.done ? 'done' : p.failure !== undefined ? 'failed' : p.stopped ? 'stopped' : 'scanning';
  return `${shown(p.tier)}: ${p.scanned} scanned, ${p.rekeyed} rekeyed, ${p.current} already current, ${p.changed} changed meanwhile (${state})`;
}

/** What a tier's pass left as it was, and what to do about it. */
function notes(t: RekeyTierReport): string[] {
  const lines: string[] = [];
  const tier = shown(t.tier);
  if (t.tenant > 0)
    lines.push(
      `${tier}: ${t.tenant} per-tenant gateway entries cannot be rekeyed (their keys derive from the callers' credentials): keep their master key in encryption.keys until they expire or are stored again`,
    );
  if (t.unopenable > 0)
    lines.push(
      `${tier}: ${t.unopenable} entries are sealed under a key this config does not have, or do not open: left as they are (they are misses)`,
    );
  if (t.plain > 0)
    lines.push(
      `${tier}: ${t.plain} plain entries left plain (encryption.acceptPlaintext is off, so they are misses; set it to seal them)`,
    );
  if (t.changed > 0)
    lines.push(
      `${tier}: ${t.changed} entries changed while being rekeyed and were left to the application; run again if an instance may still write under an old key`,
    );
  return lines;
}
