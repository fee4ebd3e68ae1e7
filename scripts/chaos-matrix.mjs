#!/usr/bin/env node
/**
 * The chaos matrix (docs/guarantees.md) from a run of the chaos suite: reads the `[chaos-matrix]`
 * lines each case prints (test/support/chaos.ts, src/proxy/chaos.int.test.ts) on stdin and writes
 * one Markdown table, fault x backend, to stdout. Only cases that printed a line (that got as far
 * as their assertions) appear; a case whose assertions then failed fails the run, so take the table
 * from a green run:
 *
 *   npx vitest run --project integration chaos 2>&1 | node scripts/chaos-matrix.mjs
 */
import { createInterface } from 'node:readline';

const BACKENDS = [
  ['redis', 'Redis'],
  ['redis-cluster', 'Redis Cluster'],
  ['mysql', 'MySQL (MariaDB)'],
  ['postgres', 'PostgreSQL'],
  ['semantic-pgvector', 'semantic, pgvector store'],
  ['mongodb', 'MongoDB (FerretDB)'],
  ['gptcache', 'GPTCache'],
  ['gateway', 'gateway ↔ upstream'],
];

/** The reporter's colour codes (ESC [ ... m), stripped before looking for the marker. */
const COLOURS = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const MARKER = '[chaos-matrix] ';
const records = [];
for await (const raw of createInterface({ input: process.stdin })) {
  const line = raw.replace(COLOURS, '');
  const at = line.indexOf(MARKER);
  if (at >= 0) records.push(JSON.parse(line.slice(at + MARKER.length)));
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const notes = [];
function cell(r) {
  if (!r) return '–';
  if (r.backend === 'gateway') {
    const failed = r.failedAs.length ? r.failedAs.join(', ') : 'slower, none failed';
    return `held: ${failed}; ${seconds(r.recoveredMs)}`;
  }
  let breaker = r.breakerOpened ? 'opens' : 'closed';
  if (!r.breakerOpened && r.partial) {
    if (!notes.includes(r.partial)) notes.push(r.partial);
    breaker += `<sup>${notes.indexOf(r.partial) + 1}</sup>`;
  }
  const alerts = ['tier_down', 'error_rate_above']
    .filter((a) => r.alerts.includes(a))
    .map((a) => (a === 'tier_down' ? 'down' : 'errors'))
    .join(' + ');
  return `held: ${breaker}; ${alerts || 'no alert'}; ${seconds(r.recoveredMs)}`;
}

const faults = [...new Set(records.map((r) => r.fault))];
const backends = BACKENDS.filter(([id]) => records.some((r) => r.backend === id));
const byKey = new Map(records.map((r) => [`${r.backend}\u0000${r.fault}`, r]));
const out = [
  `| fault | ${backends.map(([, name]) => name).join(' | ')} |`,
  `| --- | ${backends.map(() => '---').join(' | ')} |`,
  ...faults.map(
    (f) => `| ${f} | ${backends.map(([id]) => cell(byKey.get(`${id}\u0000${f}`))).join(' | ')} |`,
  ),
];
for (const [i, note] of notes.entries())
  out.push('', `<sup>${i + 1}</sup> Only some calls fail: ${note}; failures did not come three in a row.`);
console.log(out.join('\n'));
