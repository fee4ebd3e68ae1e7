/**
 * The progress reporter with a fake Io and a fake clock: in place on a terminal, throttled plain
 * lines elsewhere, a summary at the end, never on standard output.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cli, cliWorkspaces } from '../../test/support/cli.js';
import { hashKey } from '../core/key.js';
import type { Io } from './context.js';
import { createProgress, formatElapsed, intervalFromEnv } from './progress.js';

function fakeIo(interactive: boolean) {
  const out: string[] = [];
  const err: string[] = [];
  const raw: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), interactive };
  let t = 1_000_000;
  const clock = {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
  return { io, out, err, raw, clock, write: (text: string) => raw.push(text) };
}

describe('createProgress off a terminal', () => {
  it('prints a line at most every interval, then a summary; nothing on stdout or in place', () => {
    const f = fakeIo(false);
    const p = createProgress(f.io, {
      label: 'lines read',
      intervalMs: 5_000,
      now: f.clock.now,
      write: f.write,
    });
    for (let n = 1; n <= 100; n++) {
      f.clock.advance(100); // 10 items a second
      p.update(n);
    }
    p.done(100);
    expect(f.err).toEqual([
      'lines read: 50, 10.0/s, 0:05',
      'lines read: 100, 10.0/s, 0:10',
      'lines read: 100 done',
    ]);
    expect(f.out).toEqual([]);
    expect(f.raw).toEqual([]);
  });

  it('a quick run prints only the summary', () => {
    const f = fakeIo(false);
    const p = createProgress(f.io, { label: 'exported from sqlite', intervalMs: 5_000, now: f.clock.now });
    for (let n = 1; n <= 3; n++) p.update(n);
    p.done(3);
    expect(f.err).toEqual(['exported from sqlite: 3 done']);
  });

  it('with a total, says the share done', () => {
    const f = fakeIo(false);
    const p = createProgress(f.io, { label: 'lines read', total: 1000, intervalMs: 1_000, now: f.clock.now });
    f.clock.advance(2_000);
    p.update(40, 250);
    expect(f.err).toEqual(['lines read: 40 (25%), 20.0/s, 0:02']);
  });

  it('a heartbeat prints the elapsed time on its timer and no summary when asked not to', () => {
    const f = fakeIo(false);
    let tick: (() => void) | undefined;
    let stopped = false;
    const p = createProgress(f.io, {
      label: 'purging expired entries',
      heartbeat: true,
      summary: false,
      intervalMs: 5_000,
      now: f.clock.now,
      every: (ms, fn) => {
        expect(ms).toBe(5_000);
        tick = fn;
        return () => {
          stopped = true;
        };
      },
    });
    f.clock.advance(5_000);
    tick!();
    f.clock.advance(5_000);
    tick!();
    p.done();
    expect(f.err).toEqual(['purging expired entries: 0:05', 'purging expired entries: 0:10']);
    expect(stopped).toBe(true);
  });
});

describe('createProgress on a terminal', () => {
  it('redraws one line in place (at most every 100 ms), clears it and ends with the summary line', () => {
    const f = fakeIo(true);
    const p = createProgress(f.io, { label: 'lines read', total: 200, now: f.clock.now, write: f.write });
    f.clock.advance(50);
    p.update(1); // too soon after the start: not drawn
    f.clock.advance(950);
    p.update(50);
    f.clock.advance(10);
    p.update(51); // within 100 ms of the last redraw
    f.clock.advance(1_000);
    p.update(100);
    p.done(200);
    expect(f.raw).toEqual([
      '\r\x1b[2Klines read: [#####---------------] 50 (25%), 50.0/s, 0:01',
      '\r\x1b[2Klines read: [##########----------] 100 (50%), 49.8/s, 0:02',
      '\r\x1b[2K',
    ]);
    // The summary goes through io.err, which ends it with a newline.
    expect(f.err).toEqual(['lines read: 200 done']);
    expect(f.out).toEqual([]);
  });

  it('without a total shows the count; abandon clears the line with no summary', () => {
    const f = fakeIo(true);
    const p = createProgress(f.io, { label: 'exported from sqlite', now: f.clock.now, write: f.write });
    f.clock.advance(2_000);
    p.update(300);
    p.abandon();
    p.done(300); // after abandon: nothing
    expect(f.raw).toEqual(['\r\x1b[2Kexported from sqlite: 300, 150/s, 0:02', '\r\x1b[2K']);
    expect(f.err).toEqual([]);
  });

  it('a heartbeat draws at once and on its timer, and clears at the end', () => {
    const f = fakeIo(true);
    let tick: (() => void) | undefined;
    const p = createProgress(f.io, {
      label: 'purging expired entries',
      heartbeat: true,
      summary: false,
      now: f.clock.now,
      write: f.write,
      every: (_ms, fn) => {
        tick = fn;
        return () => {};
      },
    });
    f.clock.advance(61_000);
    tick!();
    p.done();
    expect(f.raw).toEqual([
      '\r\x1b[2Kpurging expired entries: 0:00',
      '\r\x1b[2Kpurging expired entries: 1:01',
      '\r\x1b[2K',
    ]);
    expect(f.err).toEqual([]);
  });

  it('escapes control characters in the label', () => {
    const f = fakeIo(false);
    createProgress(f.io, { label: 'exported from \x1b[31mred', now: f.clock.now }).done(0);
    expect(f.err).toEqual(['exported from \\u001b[31mred: 0 done']);
  });
});

describe('helpers', () => {
  it('reads the interval from the environment, falling back to 5 s', () => {
    expect(intervalFromEnv({ STRATA_PROGRESS_INTERVAL_MS: '0' })).toBe(0);
    expect(intervalFromEnv({ STRATA_PROGRESS_INTERVAL_MS: '250' })).toBe(250);
    expect(intervalFromEnv({ STRATA_PROGRESS_INTERVAL_MS: 'soon' })).toBe(5_000);
    expect(intervalFromEnv({ STRATA_PROGRESS_INTERVAL_MS: '-1' })).toBe(5_000);
    expect(intervalFromEnv({})).toBe(5_000);
  });

  it('formats elapsed time', () => {
    expect([formatElapsed(7.9), formatElapsed(754), formatElapsed(3723)]).toEqual([
      '0:07',
      '12:34',
      '1:02:03',
    ]);
  });
});

describe('strata import and export report progress on standard error', () => {
  const { workspace } = cliWorkspaces('strata-progress-');
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  const LLM = 'model:"sim-1",temperature:0';
  const entryLine = (prompt: string) =>
    JSON.stringify({
      v: 1,
      k: hashKey('app', LLM, prompt),
      ns: 'app',
      createdAt: Date.now(),
      expiresAt: null,
      tags: [],
      gens: [
        { text: `answer to ${prompt}`, message: { type: 'ai', data: { content: `answer to ${prompt}` } } },
      ],
      llm: LLM,
      prompt,
    });

  it('prints periodic lines off a terminal with $STRATA_PROGRESS_INTERVAL_MS; stdout and files unchanged', async () => {
    const ws = workspace([{ type: 'sqlite', path: 'cache.db' }]);
    const file = join(ws.dir, 'in.jsonl');
    writeFileSync(file, `${Array.from({ length: 300 }, (_, i) => entryLine(`question ${i}`)).join('\n')}\n`);

    const quiet = await cli('import', '--config', ws.config, '--file', file);
    expect(quiet.code).toBe(0);
    expect(quiet.err).toEqual(['lines read: 300 done']);
    const quietExport = join(ws.dir, 'quiet.jsonl');
    expect((await cli('export', '--config', ws.config, '--file', quietExport)).err).toEqual([
      'exported from sqlite: 300 done',
    ]);

    // Every update is a line at interval 0.
    vi.stubEnv('STRATA_PROGRESS_INTERVAL_MS', '0');
    const loud = await cli('import', '--config', ws.config, '--file', file);
    expect(loud.code).toBe(0);
    expect(loud.out).toEqual(quiet.out);
    const periodic = loud.err.filter((l) => /^lines read: \d+ \(\d+%\)/.test(l));
    expect(periodic).toHaveLength(300);
    expect(periodic.at(-1)).toMatch(/^lines read: 300 \(100%\)/);
    expect(loud.err.at(-1)).toBe('lines read: 300 done');

    const loudExport = join(ws.dir, 'loud.jsonl');
    const exported = await cli('export', '--config', ws.config, '--file', loudExport);
    expect(exported.code).toBe(0);
    expect(exported.out).toEqual([]);
    expect(exported.err.filter((l) => /^exported from sqlite: \d+, /.test(l))).toHaveLength(300);
    expect(exported.err.at(-1)).toBe('exported from sqlite: 300 done');
    expect(readFileSync(loudExport, 'utf8')).toBe(readFileSync(quietExport, 'utf8'));
  });
});

describe("a tier's long work at open shows as progress in every command", () => {
  const { workspace } = cliWorkspaces('strata-progress-index-');
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('the semantic tier indexing its entries at open: periodic lines off a terminal, stdout unchanged', async () => {
    const ws = workspace([{ type: 'semantic', embeddings: 'lexical', path: 'semantic.db' }]);
    const file = join(ws.dir, 'in.jsonl');
    const LLM = 'model:"sim-1",temperature:0';
    const lines = Array.from({ length: 2_500 }, (_, i) => {
      const prompt = `question number ${i} about topic ${i % 97}`;
      return JSON.stringify({
        v: 1,
        k: hashKey('app', LLM, prompt),
        ns: 'app',
        createdAt: Date.now(),
        expiresAt: null,
        tags: [],
        gens: [{ text: `answer ${i}` }],
        llm: LLM,
        prompt,
      });
    });
    writeFileSync(file, `${lines.join('\n')}\n`);
    expect((await cli('import', '--config', ws.config, '--file', file)).code).toBe(0);

    const quiet = await cli('stats', '--config', ws.config);
    expect(quiet.code).toBe(0);
    expect(quiet.err.filter((l) => l.includes('entries indexed'))).toEqual([]); // quick: nothing said

    vi.stubEnv('STRATA_PROGRESS_INTERVAL_MS', '0');
    const loud = await cli('stats', '--config', ws.config);
    expect(loud.code).toBe(0);
    expect(loud.out).toEqual(quiet.out);
    expect(loud.err.filter((l) => l.includes('entries indexed')).map((l) => l.replace(/,.*/, ''))).toEqual([
      'semantic: entries indexed: 1000 (40%)',
      'semantic: entries indexed: 2000 (80%)',
    ]);
  });
});
