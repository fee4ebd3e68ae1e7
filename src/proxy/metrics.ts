/**
 * The gateway's own counters, labelled by route and model, rendered beside the library's metrics
 * (which already count every lookup, tier call and saving): requests by cache status, upstream
 * calls by HTTP status, and tokens a hit did not spend. The number of label sets is bounded, so a
 * client sending random model names cannot grow the registry without limit.
 */
import type { TokenUsage } from '../core/entry.js';
import { scrubString } from '../core/secrets.js';

/** `stale`: an expired answer served because the upstream failed (stale-if-error, stages/stale.ts). */
export type CacheStatus = 'hit' | 'miss' | 'bypass' | 'coalesced' | 'error' | 'stale';

const MAX_SERIES = 2_000;

/**
 * The model label of a request no upstream has answered: the name is the client's text, and a
 * metric label must not carry whatever a client types there (a pasted key) or grow without end.
 */
export const UNVERIFIED_MODEL = 'other';

/** The model label of an upstream's answer: the model's name only when the upstream accepted it. */
export function modelLabel(model: string, status: number): string {
  return status === 200 ? model : UNVERIFIED_MODEL;
}

export class ProxyCounters {
  private readonly requests = new Map<string, number>();
  private readonly upstreamCalls = new Map<string, number>();
  private readonly savedTokens = new Map<string, number>();
  private series = 0;
  private readonly modelLabels = new Map<string, string>();
  private readonly labelTexts = new Map<string, string>();

  /**
   * A label set as text (model redacted), remembered by its values (`id`): every request writes
   * one or two, and building the text each time was a measurable part of a cache hit.
   */
  private labels(id: string, labels: () => Record<string, string>): string {
    let text = this.labelTexts.get(id);
    if (text === undefined) {
      const values = labels();
      text = labelText({ ...values, model: this.modelLabel(values.model!) });
      if (this.labelTexts.size < 4 * MAX_SERIES) this.labelTexts.set(id, text);
    }
    return text;
  }

  /**
   * A model name as a label, redacted as the library redacts it in a stored llm string: a key
   * pasted as the model (`sk-...`) becomes its digest marker. Memoized within the series bound.
   */
  private modelLabel(model: string): string {
    let label = this.modelLabels.get(model);
    if (label === undefined) {
      label = scrubString(model, false);
      if (this.modelLabels.size < MAX_SERIES) this.modelLabels.set(model, label);
    }
    return label;
  }

  request(route: string, model: string, cache: CacheStatus): void {
    this.add(
      this.requests,
      `r\u0000${route}\u0000${model}\u0000${cache}`,
      () => ({ route, model, cache }),
      1,
    );
  }

  upstream(route: string, model: string, status: number): void {
    this.add(
      this.upstreamCalls,
      `u\u0000${route}\u0000${model}\u0000${status}`,
      () => ({ route, model, status: String(status) }),
      1,
    );
  }

  saved(route: string, model: string, usage: TokenUsage): void {
    const id = `s\u0000${route}\u0000${model}\u0000`;
    this.add(this.savedTokens, `${id}input`, () => ({ route, model, kind: 'input' }), usage.inputTokens);
    this.add(this.savedTokens, `${id}output`, () => ({ route, model, kind: 'output' }), usage.outputTokens);
  }

  /** Requests by status, summed over routes and models (for tests and the CLI's summary). */
  total(cache: CacheStatus): number {
    let n = 0;
    for (const [labels, value] of this.requests) if (labels.endsWith(`cache="${cache}"`)) n += value;
    return n;
  }

  text(): string {
    return [
      section(
        'strata_proxy_requests_total',
        'Gateway requests by route, model and cache status',
        this.requests,
      ),
      section(
        'strata_proxy_upstream_calls_total',
        'Calls the gateway made upstream, by HTTP status',
        this.upstreamCalls,
      ),
      section(
        'strata_proxy_saved_tokens_total',
        'Tokens served from the cache instead of the upstream',
        this.savedTokens,
      ),
    ].join('');
  }

  private add(map: Map<string, number>, id: string, labels: () => Record<string, string>, by: number): void {
    let key = this.labels(id, labels);
    if (!map.has(key)) {
      if (this.series >= MAX_SERIES) key = labelText({ ...labels(), model: 'other' });
      else this.series++;
    }
    map.set(key, (map.get(key) ?? 0) + by);
  }
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`)
    .join(',');
}

function section(name: string, help: string, values: Map<string, number>): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} counter`];
  for (const [labels, value] of values) lines.push(`${name}{${labels}} ${value}`);
  return `${lines.join('\n')}\n`;
}
