/**
 * One warning per upstream failure: route, what happened, the upstream's origin. Never a header,
 * credential, model name (a client's text: a key pasted by mistake) or anything of the prompt.
 */
import type { Logger } from '../core/events.js';
import type { UpstreamError } from '../errors.js';
import type { Upstream } from './upstream.js';

/** Where an upstream call broke off, when it had begun its answer. */
export type BrokeOff = 'mid-response' | 'mid-stream';

export function logUpstream(logger: Logger, route: string, upstream: Upstream, what: string): void {
  let origin: string;
  try {
    origin = new URL(upstream.url).origin;
  } catch {
    origin = 'the upstream';
  }
  logger.warn(`[strata] proxy: ${route} upstream ${origin}: ${what}`);
}

/** What went wrong with an upstream call, for the log: its error code at most, never its text. */
export function describe(failure: UpstreamError, where: BrokeOff | undefined): string {
  if (where && failure.status === 502) {
    const code = /\(([A-Z_]+)\)$/.exec(failure.message)?.[1];
    return `broke off ${where}${code ? ` (${code})` : ''}`;
  }
  return failure.message.replace(/^the upstream /, '');
}
