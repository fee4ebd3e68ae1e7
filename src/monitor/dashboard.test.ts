/**
 * The dashboard assembled from its sources (src/monitor/dashboard/): one self-contained page whose
 * one inline script runs as a classic script and matches the hash the CSP gets.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { ServeConfigError } from '../errors.js';
import { assembleDashboard, dashboardPage } from './dashboard.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A page source folder holding these files. */
function sources(files: Record<string, string>): URL {
  const dir = mkdtempSync(join(tmpdir(), 'strata-dashboard-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return pathToFileURL(`${dir}/`);
}

const PAGE = [
  '<html><head>',
  '<!-- a note for whoever edits the page -->',
  '<link rel="stylesheet" href="style.css">',
  '</head><body>',
  '<script src="one.js"></script>',
  '<script src="two.js"></script>',
  '</body></html>',
  '',
].join('\n');

describe('dashboard page', () => {
  it('is one page: the stylesheet and one classic script inline, hashed for the CSP', () => {
    const page = dashboardPage();
    expect(page.html).not.toMatch(/<link rel="stylesheet"|<script src=|<!--/);
    expect(page.html).toContain('.tip[hidden]');
    const scripts = [...page.html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    // Compiled, not run: a module's import or export would be a syntax error here, as in the browser.
    expect(() => new Script(scripts[0]!)).not.toThrow();
    expect(scripts[0]).toContain('function lineChart(');
    expect(page.scriptHashes).toEqual([
      `'sha256-${createHash('sha256').update(scripts[0]!).digest('base64')}'`,
    ]);
    expect(dashboardPage()).toBe(page); // assembled once
  });

  it('serves every script of its folder: index.html names each one', () => {
    const dir = new URL('./dashboard/', import.meta.url);
    const html = readFileSync(new URL('index.html', dir), 'utf8');
    const scripts = readdirSync(dir).filter((name) => name.endsWith('.ts'));
    expect(scripts.length).toBeGreaterThan(1);
    for (const name of scripts)
      expect(html).toContain(`<script src="${name.replace(/\.ts$/, '.js')}"></script>`);
  });

  it('joins the scripts index.html names, in its order, where the first one was', () => {
    const page = assembleDashboard(
      sources({
        'index.html': PAGE,
        'style.css': 'b { color: red; }\n',
        'one.ts': 'const one: number = 1;\n',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the script's own template literal
        'two.ts': 'const two = `$&${one}`;\n',
      }),
    );
    expect(page.html).toBe(
      [
        '<html><head>',
        '<style>',
        'b { color: red; }',
        '</style>',
        '</head><body>',
        '<script>',
        'const one = 1;',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the script's own template literal
        'const two = `$&${one}`;',
        '</script>',
        '</body></html>',
        '',
      ].join('\n'),
    );
  });

  it('refuses a script that imports or exports, or one that would end its own tag', () => {
    const css = { 'index.html': PAGE, 'style.css': '', 'two.ts': '' };
    expect(() => assembleDashboard(sources({ ...css, 'one.ts': 'export const one = 1;\n' }))).toThrow(
      ServeConfigError,
    );
    expect(() => assembleDashboard(sources({ ...css, 'one.ts': "const s = '</script>';\n" }))).toThrow(
      /close its own inline tag/,
    );
  });
});
