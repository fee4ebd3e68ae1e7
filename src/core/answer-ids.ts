/**
 * Ids for similarity answers, so whoever received one can later say whether it was right (a
 * label for a semantic tier with `maxErrorRate`): the gateway's `x-strata-response-id`, and
 * `response_metadata.strata.responseId` under `withCache`. An id is 128 random bits (so it cannot
 * be guessed), kept for the most recent `capacity` answers in this process only, and used once.
 */
import { randomBytes } from 'node:crypto';

/** 128 random bits, base64url: 22 characters. */
export const ANSWER_ID = /^[A-Za-z0-9_-]{22}$/;

/** How many similarity answers can be reported on: the most recent ones. */
export const MAX_ANSWERS = 10_000;

export class AnswerIds<T> {
  /** Insertion order is age: the first entry is the oldest. */
  private readonly answers = new Map<string, T>();

  constructor(private readonly capacity = MAX_ANSWERS) {}

  /** A new id for an answer; the oldest is forgotten past capacity. */
  issue(answer: T): string {
    const id = randomBytes(16).toString('base64url');
    if (this.answers.size >= this.capacity) this.answers.delete(this.answers.keys().next().value!);
    this.answers.set(id, answer);
    return id;
  }

  /** The answer of an id still remembered (not forgotten, not used up). */
  get(id: string): T | undefined {
    return this.answers.get(id);
  }

  /** The id was used: it names nothing any more. */
  forget(id: string): void {
    this.answers.delete(id);
  }
}
