/** The cache engine the gateway keeps its answers in (src/engine): no LangChain below it. */
import type { Strata } from '../engine/strata.js';

export type Engine = Strata;

/** What a lookup that found an entry returns. */
export type EngineHit = NonNullable<Awaited<ReturnType<Engine['lookup']>>>;
