/**
 * The caching gateway: a cache hit through `strata proxy` vs calling the fake upstream directly,
 * and vs LiteLLM's proxy with its in-memory cache (scripts/litellm.sh) on the same upstream and
 * requests (proxy/hits.ts); then what large and hostile bodies cost the gateway (proxy/load.ts).
 * Each runs as its own process, as users run them; the client is undici with keep-alive.
 *
 * `PROXY_BENCH_BEFORE=<commit>` adds that commit's gateway to every table;
 * `PROXY_BENCH_PARTS=load` (or `hits`) runs one part only; `PROXY_BENCH_LITELLM=0` leaves LiteLLM
 * out of the hit tables (it takes minutes to install and start).
 */
import { benchHits } from './proxy/hits.js';
import { benchLoad } from './proxy/load.js';
import { type Before, checkout } from './proxy/processes.js';

/** Which parts run: `PROXY_BENCH_PARTS=load` skips the hit latency and LiteLLM. */
const PARTS = new Set((process.env.PROXY_BENCH_PARTS ?? 'hits,load').split(','));
/** `PROXY_BENCH_BEFORE=<commit>`: that commit's gateway runs beside this one, in every table. */
const commit = process.env.PROXY_BENCH_BEFORE;
const before: Before | undefined = commit ? { commit, root: checkout(commit) } : undefined;

if (PARTS.has('hits')) await benchHits(before);
if (PARTS.has('load')) await benchLoad(before);

process.exit(0);
