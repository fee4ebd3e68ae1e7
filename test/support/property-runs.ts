/**
 * How many cases a fast-check property tries. `npm test` tries a fifth of the full count (at
 * least 100), which still finds the bugs these properties were written for, so the unit suite
 * stays under a minute on two cores; `npm run test:all` sets STRATA_FULL_PROPERTY_RUNS=1 and
 * tries every property at its full count.
 */
export function propertyRuns(full: number): number {
  if (process.env.STRATA_FULL_PROPERTY_RUNS === '1') return full;
  return Math.min(full, Math.max(100, Math.round(full / 5)));
}
