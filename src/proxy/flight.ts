/**
 * One upstream call shared by every identical request that arrives while it runs (in-process
 * coalescing). The first request leads: it looks the key up and, on a miss, calls the upstream.
 * Identical requests that arrive meanwhile follow: a streaming follower receives the upstream's
 * events live, from the first one (those already sent are replayed to it on arrival); any other
 * follower waits for the outcome. When every client has gone, the upstream call is aborted.
 *
 * What a flight holds is bounded (StreamLimits): the events kept for late streaming followers, and
 * what each streaming client may fall behind. When every streaming client's socket is full the
 * leader stops reading the upstream (`stalled`) until one drains, so a client that reads slowly
 * slows the upstream instead of filling the gateway's memory.
 */
import type { Json } from './endpoints/endpoint.js';
import type { SseEvent } from './sse.js';

export type Outcome =
  /** A complete answer: from the cache, the upstream's JSON, or an assembled stream. */
  | {
      readonly kind: 'answer';
      readonly response: Json;
      readonly hit?: HitInfo;
    }
  /**
   * The upstream's answer went to the clients as it arrived and was not kept (larger than the
   * gateway stores, or a stream it could not assemble): streaming clients are ended normally, and a
   * follower waiting for the whole answer starts over (it sees 'retry').
   */
  | { readonly kind: 'passed' }
  /**
   * The upstream answered with an error status, or a stream with an error before any of its answer
   * (its HTTP 200, and the events before it and that event as the body); passed on to followers
   * with the same credential.
   */
  | {
      readonly kind: 'upstream-error';
      readonly status: number;
      readonly headers: Record<string, string>;
      readonly body: Buffer;
      /** The error event says the upstream is overloaded or failing (core/stale.ts OUTAGE_ERROR_TYPES). */
      readonly outage?: boolean;
    }
  /** No answer for anyone: the upstream was unreachable, stalled, or broke off mid-stream. */
  | {
      readonly kind: 'failed';
      readonly status: number;
      readonly message: string;
      /** The StrataError code, when the failure is one (an UpstreamError). */
      readonly code?: string;
      /** The upstream reported the error in-stream and clients got that event: end, do not break. */
      readonly reported?: boolean;
    }
  /** The leader ended without an answer meant for others (only-if-cached miss): followers start over. */
  | { readonly kind: 'retry' };

export interface HitInfo {
  readonly tier: string;
  readonly ageSeconds: number;
  readonly similarity?: number;
  /** Another prompt's entry, found by a similarity tier (its response may be reported on: feedback.ts). */
  readonly similar?: boolean;
  /** An expired answer standing in for an upstream that failed (stale-if-error, stages/stale.ts). */
  readonly stale?: boolean;
  /**
   * The engine's shared answer this hit is (LookupOptions.shared): frozen, and one object for as
   * long as its entry's payload is unchanged, so the bytes it is sent as may be kept by it
   * (stages/prepared.ts). Undefined for an answer of the caller's own (a copy, a similar match).
   */
  readonly entry?: object;
}

/** A client following a stream: the gateway writes its headers and bytes. */
export interface StreamClient {
  readonly includeUsage: boolean;
  begin(): void;
  write(text: string): void;
  end(): void;
  /** The stream broke: the client must see an error, not a clean end. */
  fail(): void;
  /** Its connection is closed: nothing written reaches it any more. */
  gone(): boolean;
  /** Its socket took no more (a write returned false) and has not drained since. */
  full(): boolean;
  /** Bytes written to it that its socket has not taken yet. */
  backlog(): number;
  /** Calls `then` once it drains or its connection closes; returns the function that stops waiting. */
  onDrain(then: () => void): () => void;
}

export interface StreamLimits {
  /** Bytes of events kept for streaming followers that join late; past it, none may join any more. */
  readonly replayBytes: number;
  /** A streaming client whose backlog grows past this while another client keeps up is cut off. */
  readonly lagBytes: number;
}

interface Forwarded {
  readonly raw: string;
  readonly usageOnly: boolean;
}

export class Flight {
  readonly outcome: Promise<Outcome>;
  /** Made when first asked for: a flight answered from the cache never needs one. */
  private aborter: AbortController | undefined;
  private settle!: (outcome: Outcome) => void;
  private final: Outcome | undefined;
  private streaming = false;
  /** The events so far, for late streaming followers; undefined once they outgrew `replayBytes`. */
  private forwarded: Forwarded[] | undefined = [];
  private forwardedBytes = 0;
  private limits: StreamLimits = {
    replayBytes: Number.POSITIVE_INFINITY,
    lagBytes: Number.POSITIVE_INFINITY,
  };
  private readonly streams = new Set<StreamClient>();
  private attached = 0;
  /** Ends a `stalled` wait: a client joined or left, or the flight ended. */
  private wake: (() => void) | undefined;

  constructor(
    /** The leader's credential digest: an upstream error is passed on only to the same caller. */
    readonly fingerprint: string,
    /**
     * The leader's values of the request fields its answer echoes (endpoint.echo): a streaming
     * follower with other values cannot take the live events, which carry the leader's.
     */
    readonly echo = '',
  ) {
    this.outcome = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  /** Aborted when no client is left waiting for this call. */
  get abort(): AbortController {
    this.aborter ??= new AbortController();
    return this.aborter;
  }

  /** A client (leader or follower) is waiting; returns the function to call when it goes away. */
  attach(): () => void {
    this.attached++;
    let gone = false;
    return () => {
      if (gone) return;
      gone = true;
      if (--this.attached === 0 && !this.final) this.abort.abort();
    };
  }

  /**
   * Whether a streaming client may still join: every event so far is kept for it. A stream that
   * outgrew `replayBytes` takes none (the gateway gives it a call of its own).
   */
  get joinable(): boolean {
    return this.forwarded !== undefined;
  }

  /** A streaming client joins: it is sent what was already forwarded, then everything live. */
  follow(client: StreamClient): void {
    if (this.streaming && !this.forwarded) {
      // Its stream would lack its start; the gateway checks `joinable` first, so this is a slip.
      client.fail();
      return;
    }
    if (!this.final) {
      this.streams.add(client);
      this.wake?.();
    }
    if (!this.streaming) return;
    client.begin();
    for (const f of this.forwarded!) if (client.includeUsage || !f.usageOnly) client.write(f.raw);
    // Joined after the end (while the answer was being stored): it has the whole stream now.
    if (this.final) this.close(client, this.final);
  }

  unfollow(client: StreamClient): void {
    this.streams.delete(client);
    this.wake?.();
  }

  /** The upstream's stream began (a 200 with events): streaming clients get their headers. */
  beginStream(limits: StreamLimits): void {
    this.limits = limits;
    this.streaming = true;
    for (const client of this.streams) client.begin();
  }

  forward(event: SseEvent, usageOnly: boolean): void {
    if (this.forwarded) {
      this.forwarded.push({ raw: event.raw, usageOnly });
      this.forwardedBytes += event.raw.length;
      if (this.forwardedBytes > this.limits.replayBytes) {
        this.forwarded = undefined;
        this.forwardedBytes = 0;
      }
    }
    let live = 0;
    for (const client of this.streams) {
      if (client.gone()) continue;
      live++;
      if (client.includeUsage || !usageOnly) client.write(event.raw);
    }
    // Alone, a slow client pauses the upstream (`stalled`); beside others that keep up, it would
    // be buffered for without end, so it is cut off and its SDK sees a broken stream.
    if (live > 1)
      for (const client of this.streams)
        if (!client.gone() && client.backlog() > this.limits.lagBytes) {
          this.streams.delete(client);
          client.fail();
        }
  }

  /**
   * Undefined while the upstream may be read on. When every streaming client's socket is full, a
   * promise that resolves true once one of them drains or leaves, a client joins or the call is
   * aborted, or false when none of that happened within `ms` (nobody reads: the stream ends).
   */
  stalled(ms: number): Promise<boolean> | undefined {
    const live = [...this.streams].filter((c) => !c.gone());
    if (live.length === 0 || live.some((c) => !c.full())) return undefined;
    return new Promise((resolve) => {
      const stops: (() => void)[] = [];
      const done = (readable: boolean) => {
        clearTimeout(timer);
        for (const stop of stops) stop();
        this.abort.signal.removeEventListener('abort', wake);
        if (this.wake === wake) this.wake = undefined;
        resolve(readable);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      for (const client of live) stops.push(client.onDrain(wake));
      this.abort.signal.addEventListener('abort', wake);
      this.wake = wake;
    });
  }

  get isStreaming(): boolean {
    return this.streaming;
  }

  /** Ends the flight; streaming clients of a live stream are ended or failed here, the rest by the gateway. */
  finish(outcome: Outcome): void {
    if (this.final) return;
    this.final = outcome;
    this.wake?.();
    if (this.streaming) {
      for (const client of this.streams) this.close(client, outcome);
      this.streams.clear();
    }
    this.settle(outcome.kind === 'passed' ? { kind: 'retry' } : outcome);
  }

  private close(client: StreamClient, outcome: Outcome): void {
    const complete =
      outcome.kind === 'answer' ||
      outcome.kind === 'passed' ||
      (outcome.kind === 'failed' && outcome.reported);
    if (complete) client.end();
    else client.fail();
  }
}
