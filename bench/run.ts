/** `npm run bench -- <name>... [--option value...]`: runs bench/<name>.ts; options are the benchmarks' own. */
import { readdirSync } from 'node:fs';

const available = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'harness.ts'].includes(f))
  .map((f) => f.replace(/\.ts$/, ''));
const args = process.argv.slice(2);
const firstOption = args.findIndex((a) => a.startsWith('-'));
const names = firstOption === -1 ? args : args.slice(0, firstOption);
if (names.length === 0 || names.some((n) => !available.includes(n))) {
  console.error(`usage: npm run bench -- <${available.join('|')}> [...]`);
  process.exit(2);
}
console.log(`node ${process.version}, ${process.platform}/${process.arch}, ${new Date().toISOString()}`);
for (const name of names) await import(`./${name}.ts`);
