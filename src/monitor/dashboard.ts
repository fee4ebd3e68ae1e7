/**
 * The dashboard `strata serve` shows at /: one self-contained page (no external scripts, fonts or
 * styles; it works offline) that polls the API every two seconds. Its sources are real files in
 * ./dashboard/: index.html, style.css and the scripts index.html lists (TypeScript, type-checked
 * against the DOM by their own tsconfig.json). Assembling puts the stylesheet and the scripts,
 * transpiled and joined, inline in the page, and hashes that one script for the
 * Content-Security-Policy (server.ts), which admits no other.
 *
 * `npm run build` assembles it once (scripts/build-dashboard.mjs, with this module's
 * assembleDashboard) into dist/monitor/dashboard/page.json, which the package serves. Run from
 * src/ (tests, tsx, the bench) there is no such file: the page is assembled from the sources on
 * first use, with TypeScript, which only a development install has.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as TypeScript from 'typescript';
import { ServeConfigError } from '../errors.js';

export interface DashboardPage {
  html: string;
  /** `'sha256-...'` CSP sources of the page's inline script. */
  scriptHashes: string[];
}

/** Where the build writes the page, next to this module compiled. */
export const BUILT_PAGE = new URL('./dashboard/page.json', import.meta.url);
const SOURCES = new URL('./dashboard/', import.meta.url);

let page: DashboardPage | undefined;

/** The page to serve: the built one, else (run from src/) assembled from the sources, once. */
export function dashboardPage(): DashboardPage {
  if (page) return page;
  if (existsSync(BUILT_PAGE)) page = JSON.parse(readFileSync(BUILT_PAGE, 'utf8')) as DashboardPage;
  else if (existsSync(new URL('index.html', SOURCES))) page = assembleDashboard(SOURCES);
  else {
    throw new ServeConfigError(
      `the dashboard page is missing (${BUILT_PAGE.pathname}): this copy of strata-cache was not built with npm run build`,
    );
  }
  return page;
}

const STYLESHEET = /<link rel="stylesheet" href="([\w-]+\.css)">/;
const SCRIPT = /^[ \t]*<script src="([\w-]+)\.js"><\/script>\n/gm;
const COMMENT = /^[ \t]*<!--[\s\S]*?-->\n/gm;

/** index.html from `dir` with its stylesheet and scripts (the .ts of each .js it names) inline. */
export function assembleDashboard(dir: URL): DashboardPage {
  const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
  const source = read('index.html').replace(COMMENT, '');
  const names = [...source.matchAll(SCRIPT)].map((m) => m[1]!);
  const css = STYLESHEET.exec(source)?.[1];
  if (names.length === 0 || css === undefined) {
    throw new ServeConfigError('dashboard/index.html: names no stylesheet or no script to inline');
  }
  const ts = createRequire(import.meta.url)('typescript') as typeof TypeScript;
  const script = names.map((name) => transpile(ts, name, read(`${name}.ts`))).join('');
  const style = read(css);
  if (/<\/script/i.test(script) || /<\/style/i.test(style)) {
    throw new ServeConfigError('dashboard: a script or the stylesheet would close its own inline tag');
  }
  // A function as replacement: a `$` in the stylesheet is not a replacement pattern.
  const styled = source.replace(STYLESHEET, () => `<style>\n${style}</style>`);
  // The scripts become one, where the first was.
  const at = styled.search(SCRIPT);
  const rest = styled.replace(SCRIPT, '');
  // The hash covers the element's whole text, as the browser reads it: from `<script>` to `</script>`.
  const inline = `\n${script}`;
  const html = `${rest.slice(0, at)}<script>${inline}</script>\n${rest.slice(at)}`;
  const hash = createHash('sha256').update(inline, 'utf8').digest('base64');
  return { html, scriptHashes: [`'sha256-${hash}'`] };
}

/** One script as the browser runs it: a classic script, so it must neither import nor export. */
function transpile(ts: typeof TypeScript, name: string, code: string): string {
  const { outputText } = ts.transpileModule(code, {
    fileName: `${name}.ts`,
    reportDiagnostics: false,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, removeComments: true },
  });
  if (/^\s*(import|export)\b/m.test(outputText)) {
    throw new ServeConfigError(`dashboard/${name}.ts: imports or exports, but runs as a classic script`);
  }
  return outputText;
}
