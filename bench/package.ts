/**
 * The installed package: what `npm install strata-cache @langchain/core` adds to a blank project
 * (disk), and the resident memory of a process after `import 'strata-cache'`, beside
 * `@langchain/core/caches` alone. Compares this checkout with an earlier commit (PACKAGE_BEFORE,
 * default ead8363: the last one with every backend client a hard dependency), both packed and
 * installed the same way, from npm's cache where it can.
 *
 * `npm run bench -- package`
 */
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './harness.js';

const ROOT = join(import.meta.dirname, '..');
const BEFORE = process.env.PACKAGE_BEFORE ?? 'ead8363';
const RUNS = 7;
const work = mkdtempSync(join(tmpdir(), 'strata-package-bench-'));

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 });

/** Packs `dir` (already built) into `work`; returns the tarball's path. */
function pack(dir: string): string {
  const [info] = JSON.parse(
    run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], dir),
  ) as Array<{
    filename: string;
  }>;
  const target = join(work, `${dir === ROOT ? 'now' : 'before'}-${info!.filename}`);
  execFileSync('mv', [join(work, info!.filename), target]);
  return target;
}

/** A blank project with `packages` installed. */
function project(name: string, packages: string[]): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', ...packages],
    dir,
  );
  return dir;
}

const kib = (dir: string) => Number(run('du', ['-sk', join(dir, 'node_modules')], dir).split('\t')[0]);

function rssAfterImport(dir: string, specifiers: string[]): number {
  const rss: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = run(
      'node',
      [
        '--input-type=module',
        '-e',
        `${specifiers.map((m) => `await import(${JSON.stringify(m)});`).join(' ')} console.log(process.memoryUsage().rss)`,
      ],
      dir,
    );
    rss.push(Number(out.trim()) / 2 ** 20);
  }
  return median(rss);
}

function builtBefore(): string {
  const dir = join(work, 'before-src');
  run('git', ['worktree', 'add', '--detach', dir, BEFORE], ROOT);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  run('node', [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir);
  return dir;
}

const installed = (pkg: string) =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string })
    .version;
const core = `@langchain/core@${installed('@langchain/core')}`;
try {
  const beforeDir = builtBefore();
  const tarballs = { before: pack(beforeDir), now: pack(ROOT) };
  const base = project('core-only', [core]);
  const rows = [
    { name: '`@langchain/core/caches` alone', dir: base, specifiers: ['@langchain/core/caches'] },
    {
      name: '`@langchain/core` caches + messages + outputs (what a chat application loads anyway)',
      dir: base,
      specifiers: ['@langchain/core/caches', '@langchain/core/messages', '@langchain/core/outputs'],
    },
    {
      name: `strata-cache at ${BEFORE} (every client a dependency)`,
      dir: project('before', [tarballs.before, core]),
      specifiers: ['strata-cache'],
    },
    {
      name: 'strata-cache now (optional peers)',
      dir: project('now', [tarballs.now, core]),
      specifiers: ['strata-cache'],
    },
  ];
  const baseKib = kib(base);
  console.log('\n### package: install size and memory after import\n');
  console.log(
    '| project | node_modules MiB | added by strata-cache MiB | packages | RSS after import MiB (median of 7) |',
  );
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) {
    const size = kib(r.dir);
    const packages = readdirSync(join(r.dir, 'node_modules')).flatMap((d) =>
      d.startsWith('@') ? readdirSync(join(r.dir, 'node_modules', d)) : d.startsWith('.') ? [] : [d],
    ).length;
    console.log(
      `| ${r.name} | ${(size / 1024).toFixed(1)} | ${((size - baseKib) / 1024).toFixed(1)} | ${packages} | ${rssAfterImport(r.dir, r.specifiers).toFixed(1)} |`,
    );
  }
} finally {
  try {
    run('git', ['worktree', 'remove', '--force', join(work, 'before-src')], ROOT);
  } catch {
    // never created
  }
  rmSync(work, { recursive: true, force: true });
}
