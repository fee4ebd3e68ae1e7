/**
 * The cache engine the gateway keeps its answers in: named once here, so that what the gateway
 * takes (today the manager behind a StrataCache) changes in one line.
 */
import type { Manager } from '../core/manager.js';

export type Engine = Manager;

/** What a lookup that found an entry returns. */
export type EngineHit = NonNullable<Awaited<ReturnType<Engine['lookup']>>>;
