/**
 * Where a config comes from: an explicit path (`--config`), then `STRATA_CONFIG`, then
 * `./strata.config.json`, and failing all three the embedded default (memory in front of a
 * SQLite file under `./.strata/`). Relative paths inside a config file are resolved against the
 * file's folder, so a config means the same thing from any working directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { StrataConfigError } from '../errors.js';
import { parseConfig, type ResolvedConfig, type StrataConfig } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'strata.config.json';

export function defaultConfig(baseDir = process.cwd()): StrataConfig {
  return {
    tiers: [
      { type: 'memory', maxEntries: 10_000 },
      { type: 'sqlite', path: resolve(baseDir, '.strata', 'cache.db') },
    ],
  };
}

export interface LoadedConfig {
  config: ResolvedConfig;
  /** The file it came from, or 'default'. */
  source: string;
}

export function loadConfigWithSource(path?: string): LoadedConfig {
  const file =
    path ?? process.env.STRATA_CONFIG ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (file === undefined) return { config: parseConfig(defaultConfig()), source: 'default' };
  const absolute = resolve(file);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(absolute, 'utf8'));
  } catch (error) {
    throw new StrataConfigError([
      { path: '', message: `cannot read ${absolute}: ${(error as Error).message}` },
    ]);
  }
  const config = parseConfig(raw);
  const base = dirname(absolute);
  for (const tier of config.tiers) {
    if ('path' in tier && tier.path !== ':memory:' && !isAbsolute(tier.path))
      tier.path = resolve(base, tier.path);
  }
  return { config, source: absolute };
}

export function loadConfig(path?: string): ResolvedConfig {
  return loadConfigWithSource(path).config;
}
