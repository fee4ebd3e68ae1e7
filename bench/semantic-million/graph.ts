/** Child of semantic-million: builds the 1M-node graph (HnswIndex) over real + synthetic vectors, writes its snapshot. */
import { renameSync, writeFileSync } from 'node:fs';
import { HnswIndex } from '../../src/tiers/semantic/vectors/hnsw.js';
import { realVectors, synthetic } from './data.js';

export function buildGraph(source: string, total: number, out: string): void {
  const real = realVectors(source);
  const index = new HnswIndex();
  const t0 = performance.now();
  let n = 0;
  const tick = () => {
    if (++n % 50_000 === 0)
      console.log(`  linked ${n.toLocaleString('en-US')}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  };
  for (let i = 0; i < real.ids.length; i++) {
    index.add(real.ids[i]!, real.vectors[i]!);
    tick();
  }
  const synthetics = total - real.ids.length;
  for (let j = 0; j < synthetics; j++) {
    index.add(real.maxId + 1 + j, synthetic(real, j));
    tick();
  }
  const bytes = index.snapshot()!;
  writeFileSync(`${out}.tmp`, bytes);
  renameSync(`${out}.tmp`, out);
  console.log(
    `graph of ${index.size.toLocaleString('en-US')} vectors built in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${bytes.byteLength} bytes`,
  );
}

if (process.argv[1] === import.meta.filename)
  buildGraph(process.argv[2]!, Number(process.argv[3]), process.argv[4]!);
