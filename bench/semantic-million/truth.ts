/**
 * Child of semantic-million: the exact nearest stored vector (float dot product over all of them)
 * of each query, for recall@1. Written as JSON: [[id, score], ...] by query.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { query, realVectors, synthetic } from './data.js';

export function exactNearest(source: string, total: number, queries: number, out: string): void {
  const real = realVectors(source);
  const dims = real.vectors[0]!.length;
  const qs = new Float32Array(queries * dims);
  for (let q = 0; q < queries; q++) qs.set(query(real, q), q * dims);
  const best = new Float64Array(queries).fill(-2);
  const bestId = new Float64Array(queries);
  const t0 = performance.now();
  const visit = (id: number, v: Float32Array) => {
    for (let q = 0; q < queries; q++) {
      const base = q * dims;
      let s0 = 0;
      let s1 = 0;
      for (let i = 0; i < dims; i += 2) {
        s0 += qs[base + i]! * v[i]!;
        s1 += qs[base + i + 1]! * v[i + 1]!;
      }
      const s = s0 + s1;
      if (s > best[q]!) {
        best[q] = s;
        bestId[q] = id;
      }
    }
  };
  for (let i = 0; i < real.ids.length; i++) visit(real.ids[i]!, real.vectors[i]!);
  for (let j = 0; j < total - real.ids.length; j++) {
    visit(real.maxId + 1 + j, synthetic(real, j));
    if ((j + 1) % 100_000 === 0)
      console.log(`  scanned ${j + 1}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  writeFileSync(`${out}.tmp`, JSON.stringify(Array.from(bestId, (id, q) => [id, best[q]])));
  renameSync(`${out}.tmp`, out);
}

if (process.argv[1] === import.meta.filename)
  exactNearest(process.argv[2]!, Number(process.argv[3]), Number(process.argv[4]), process.argv[5]!);
