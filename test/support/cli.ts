/** The CLI as tests drive it: in-process, with its output collected, over a config in a temp folder. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Io } from '../../src/cli/context.js';
import { main } from '../../src/cli/main.js';

export async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), interactive: false };
  const code = await main(argv, io);
  return { code, out, err };
}

export interface CliWorkspace {
  dir: string;
  /** Path of its strata.config.json (namespace `app`). */
  config: string;
}

/**
 * Temp folders with a strata.config.json, removed after each test of the calling file. Call it
 * once at the top of a test file.
 */
export function cliWorkspaces(prefix: string): {
  workspace(tiers: unknown[], config?: Record<string, unknown>): CliWorkspace;
  tempDir(): string;
} {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  return {
    tempDir,
    workspace(tiers, config = {}) {
      const dir = tempDir();
      const path = join(dir, 'strata.config.json');
      writeFileSync(path, JSON.stringify({ namespace: 'app', tiers, ...config }));
      return { dir, config: path };
    },
  };
}
