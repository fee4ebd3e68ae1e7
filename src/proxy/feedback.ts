/**
 * Feedback by response id: a response the gateway answers from a similarity tier (another
 * prompt's entry) carries `x-strata-response-id`, and a later request from the same caller may
 * report whether that answer was right (`x-strata-feedback: right <id>`) or wrong (`wrong <id>`),
 * on any request it sends through the gateway or on `/strata/feedback`. Wrong takes the entry out
 * of similarity matching (markBad); right is a label for a tier that learns when to serve
 * (`maxErrorRate`, markGood).
 *
 * The gateway keeps what each id needs for that (the key as the engine got it, the caller that
 * received it, the per-tenant sealer) for the last MAX_RESPONSES such responses, in this process
 * only. Only the caller that received a response may report on it: one presenting other
 * credentials, or none, or under another tenant, is answered as if the id were unknown, so ids
 * leaking (logs, a shared browser history) lets nobody else steer another tenant's cache. Each
 * id is used once: a label counts one response once, however often it is reported.
 */
import type { ServerResponse } from 'node:http';
import { ANSWER_ID, AnswerIds, MAX_ANSWERS } from '../core/answer-ids.js';
import type { Sealer } from '../core/encryption/keyring.js';
import type { CacheKey } from '../core/key.js';
import { RequestError } from '../errors.js';
import type { Engine } from './engine.js';
import type { Caller, Headers } from './tenancy.js';

/** How many similarity answers the gateway can take feedback on: the most recent ones. */
export const MAX_RESPONSES = MAX_ANSWERS;

/** The response header naming a similarity answer, and the request header reporting on one. */
export const RESPONSE_ID_HEADER = 'x-strata-response-id';
export const FEEDBACK_HEADER = 'x-strata-feedback';
/** The gateway's own endpoint for feedback alone (no model call). */
export const FEEDBACK_PATH = '/strata/feedback';

export type Verdict = 'right' | 'wrong';
export interface Report {
  readonly verdict: Verdict;
  readonly id: string;
}
/** What the response says of a report: `applied` only when a tier recorded it. */
export type FeedbackResult = 'applied' | 'unknown';

interface Answered {
  readonly key: CacheKey;
  readonly namespace: string | undefined;
  readonly fingerprint: string;
  readonly sealer: Sealer | undefined;
}

/** The request's report, if it carries one; a RequestError (400) naming the header when it is malformed. */
export function reportOf(headers: Headers): Report | undefined {
  const raw = headers[FEEDBACK_HEADER];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? (raw.length === 1 ? raw[0]! : undefined) : raw;
  const match = value === undefined ? null : /^\s*(right|wrong)\s+(\S+)\s*$/i.exec(value);
  if (!match || !ANSWER_ID.test(match[2]!))
    throw new RequestError(
      `${FEEDBACK_HEADER}: must be "wrong <id>" or "right <id>", one per request, with the ${RESPONSE_ID_HEADER} of a response`,
      'STRATA_REQUEST_FEEDBACK',
    );
  return { verdict: match[1]!.toLowerCase() as Verdict, id: match[2]! };
}

export class Feedback {
  private readonly answered: AnswerIds<Answered>;

  constructor(
    private readonly engine: Engine,
    capacity = MAX_RESPONSES,
  ) {
    this.answered = new AnswerIds(capacity);
  }

  /** A new id for a similarity answer to this request's caller; the oldest id is forgotten past capacity. */
  remember(key: CacheKey, caller: Caller, sealer: Sealer | undefined): string {
    return this.answered.issue({ key, namespace: caller.namespace, fingerprint: caller.fingerprint, sealer });
  }

  /**
   * Applies a report from `caller`: `unknown` when the id is not one this caller received (or is
   * forgotten, or used), or when no tier recorded the label (the id is then kept for a retry).
   */
  async apply(report: Report, caller: Caller): Promise<FeedbackResult> {
    const answered = this.answered.get(report.id);
    if (!answered || answered.fingerprint !== caller.fingerprint || answered.namespace !== caller.namespace)
      return 'unknown';
    const call = answered.sealer ? { sealer: answered.sealer } : undefined;
    const recorded =
      report.verdict === 'wrong'
        ? await this.engine.markBad(answered.key, call)
        : await this.engine.markGood(answered.key, call);
    if (recorded === 0) return 'unknown';
    this.answered.forget(report.id);
    return 'applied';
  }
}

/** Whether the request is for the feedback endpoint (path as received, query aside). */
export function isFeedbackPath(url: URL): boolean {
  return url.pathname === FEEDBACK_PATH;
}

/** The feedback endpoint's answer: the result as JSON (and in the header); a request without a report is refused. */
export function answerFeedback(res: ServerResponse, result: FeedbackResult | undefined): void {
  if (result === undefined)
    throw new RequestError(`${FEEDBACK_HEADER}: is required on ${FEEDBACK_PATH}`, 'STRATA_REQUEST_FEEDBACK');
  const body = Buffer.from(JSON.stringify({ feedback: result }));
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'cache-control': 'no-store',
  });
  res.end(body);
}
