/**
 * One upstream call shared by every identical request that arrives while it runs (in-process
 * coalescing). The first request leads: it looks the key up and, on a miss, calls the upstream.
 * Identical requests that arrive meanwhile follow: a streaming follower receives the upstream's
 * events live, from the first one (those already sent are replayed to it on arrival); any other
 * follower waits for the outcome. When every client has gone, the upstream call is aborted.
 */
import type { Json } from './endpoints/endpoint.js';
import type { SseEvent } from './sse.js';

export type Outcome =
  /** A complete answer: from the cache, the upstream's JSON, or an assembled stream. */
  | {
      readonly kind: 'answer';
      readonly response: Json;
      readonly hit?: HitInfo;
      /** Larger than `maxStoredBytes`: answered, not stored. */
      readonly unstorable?: boolean;
    }
  /** The upstream answered with an error status; passed on to followers with the same credential. */
  | {
      readonly kind: 'upstream-error';
      readonly status: number;
      readonly headers: Record<string, string>;
      readonly body: Buffer;
    }
  /** No answer for anyone: the upstream was unreachable, stalled, or broke off mid-stream. */
  | {
      readonly kind: 'failed';
      readonly status: number;
      readonly message: string;
      /** The upstream reported the error in-stream and clients got that event: end, do not break. */
      readonly reported?: boolean;
    }
  /** The leader ended without an answer meant for others (only-if-cached miss): followers start over. */
  | { readonly kind: 'retry' };

export interface HitInfo {
  readonly tier: string;
  readonly ageSeconds: number;
  readonly similarity?: number;
}

/** A client following a stream: the gateway writes its headers and bytes. */
export interface StreamClient {
  readonly includeUsage: boolean;
  begin(): void;
  write(text: string): void;
  end(): void;
  /** The stream broke: the client must see an error, not a clean end. */
  fail(): void;
}

interface Forwarded {
  readonly raw: string;
  readonly usageOnly: boolean;
}

export class Flight {
  readonly outcome: Promise<Outcome>;
  /** Aborted when no client is left waiting for this call. */
  readonly abort = new AbortController();
  private settle!: (outcome: Outcome) => void;
  private settled = false;
  private streaming = false;
  private readonly forwarded: Forwarded[] = [];
  private readonly streams = new Set<StreamClient>();
  private attached = 0;

  constructor(
    /** The leader's credential digest: an upstream error is passed on only to the same caller. */
    readonly fingerprint: string,
  ) {
    this.outcome = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  /** A client (leader or follower) is waiting; returns the function to call when it goes away. */
  attach(): () => void {
    this.attached++;
    let gone = false;
    return () => {
      if (gone) return;
      gone = true;
      if (--this.attached === 0 && !this.settled) this.abort.abort();
    };
  }

  /** A streaming client joins: it is sent what was already forwarded, then everything live. */
  follow(client: StreamClient): void {
    this.streams.add(client);
    if (!this.streaming) return;
    client.begin();
    for (const f of this.forwarded) if (client.includeUsage || !f.usageOnly) client.write(f.raw);
  }

  unfollow(client: StreamClient): void {
    this.streams.delete(client);
  }

  /** The upstream's stream began (a 200 with events): streaming clients get their headers. */
  beginStream(): void {
    this.streaming = true;
    for (const client of this.streams) client.begin();
  }

  forward(event: SseEvent, usageOnly: boolean): void {
    this.forwarded.push({ raw: event.raw, usageOnly });
    for (const client of this.streams) if (client.includeUsage || !usageOnly) client.write(event.raw);
  }

  get isStreaming(): boolean {
    return this.streaming;
  }

  /** Ends the flight; streaming clients of a live stream are ended or failed here, the rest by the gateway. */
  finish(outcome: Outcome): void {
    if (this.settled) return;
    this.settled = true;
    if (this.streaming) {
      for (const client of this.streams) {
        if (outcome.kind === 'answer' || (outcome.kind === 'failed' && outcome.reported)) client.end();
        else client.fail();
      }
      this.streams.clear();
    }
    this.settle(outcome);
  }
}
