/**
 * OpenTelemetry traces (docs/monitoring.md, "Tracing"). `@opentelemetry/api` is an optional peer,
 * and this is the one file that loads it: once, when the first engine with tracing on is created
 * (`loadTracing`), by a dynamic import that fails quietly when it is not installed. The rest of
 * Strata calls the small interface below, which answers `undefined` (no span, no context, no
 * attribute object built) when the API is absent, no SDK has registered a tracer provider, the
 * config says `tracing: false`, or the caller's trace is not sampled.
 *
 * What a span may carry is decided here too: tier names and kinds, outcomes, sizes, similarity,
 * the model name Strata extracts from the (already scrubbed) llm string (monitor/savings.ts
 * `modelOf`, the same name the metrics use) and token counts. Never prompt or answer text, llm
 * strings, cache keys or their hashes, namespaces (they can be tenants), headers or error
 * messages (a driver's error can quote a connection URL with its password).
 *
 * The API's types are not imported: the few members used are declared structurally below, so
 * neither the build nor a user's type check needs the package.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { type StoredGenerationData, tokenUsage } from './entry.js';
import type { Hit } from './events.js';
import { modelOf } from './model-of.js';

export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

interface TraceStateLike {
  serialize(): string;
}
interface SpanContextLike {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: TraceStateLike;
}
export interface SpanLike {
  setAttribute(key: string, value: AttributeValue): unknown;
  addEvent(name: string, attributes?: Attributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  isRecording(): boolean;
  spanContext(): SpanContextLike;
  end(): void;
}
interface TracerLike {
  startSpan(name: string, options?: { kind?: number; attributes?: Attributes }, context?: unknown): SpanLike;
}
interface ProviderLike {
  getTracer(name: string, version?: string): TracerLike;
  getDelegate?(): unknown;
}
type Carrier = Record<string, string | string[] | undefined>;
interface OtelApi {
  trace: {
    getTracerProvider(): ProviderLike;
    getSpan(context: unknown): SpanLike | undefined;
    setSpan(context: unknown, span: SpanLike): unknown;
    setSpanContext(context: unknown, spanContext: SpanContextLike): unknown;
    getActiveSpan(): SpanLike | undefined;
  };
  context: {
    active(): unknown;
    with<R>(context: unknown, fn: () => R): R;
  };
  propagation: {
    extract(context: unknown, carrier: unknown): unknown;
    inject(context: unknown, carrier: unknown): void;
    fields(): string[];
  };
  ROOT_CONTEXT: unknown;
  ProxyTracerProvider: new () => { getDelegate(): unknown };
  createTraceState(raw?: string): TraceStateLike;
  isSpanContextValid(spanContext: SpanContextLike): boolean;
}

/** SpanKind and SpanStatusCode of the API (stable numbers). */
const KIND = { internal: 0, server: 1, client: 2 } as const;
const STATUS_ERROR = 2;

const PACKAGE = 'strata-cache';

// --- Loading --------------------------------------------------------------------------------------

/** The package, named through a variable so no bundler or type check insists on it. */
const API_PACKAGE = '@opentelemetry/api';
const importApi = (): Promise<unknown> => import(API_PACKAGE);

let loader: () => Promise<unknown> = importApi;
let loading: Promise<void> | undefined;
/** The API, once loaded; undefined while not loaded or not installed. */
let api: OtelApi | undefined;
/** This copy's no-op provider: what the global provider delegates to while no SDK is registered. */
let noopProvider: unknown;

/** Loads `@opentelemetry/api` once, if it is installed; never rejects. */
export function loadTracing(): Promise<void> {
  loading ??= loader().then(
    (module) => {
      api = asApi(module);
      noopProvider = api && new api.ProxyTracerProvider().getDelegate();
    },
    () => {
      api = undefined;
    },
  );
  return loading;
}

/**
 * Tests only: replaces how the API is loaded (a loader resolving undefined stands for "not
 * installed") and forgets what was loaded; `undefined` restores the real import.
 */
export function resetTracingForTests(load?: () => Promise<unknown>): void {
  loader = load ?? importApi;
  loading = undefined;
  api = undefined;
  noopProvider = undefined;
  seenDelegate = undefined;
  seenTracer = undefined;
}

/** Whether the API was found (for tests and `strata doctor`-like reports). */
export function tracingApiLoaded(): boolean {
  return api !== undefined;
}

function asApi(module: unknown): OtelApi | undefined {
  const m = module as Partial<OtelApi> & { default?: unknown };
  const candidate = (typeof m?.trace?.getTracerProvider === 'function' ? m : m?.default) as
    | Partial<OtelApi>
    | undefined;
  return typeof candidate?.trace?.getTracerProvider === 'function' &&
    typeof candidate.context?.active === 'function' &&
    typeof candidate.propagation?.inject === 'function' &&
    typeof candidate.ProxyTracerProvider === 'function'
    ? (candidate as OtelApi)
    : undefined;
}

// --- Is an SDK registered? --------------------------------------------------------------------------

/** The provider behind the global one at the last look, and the tracer taken from it. */
let seenDelegate: unknown;
let seenTracer: TracerLike | undefined;

/**
 * The tracer to start spans with, or undefined while no SDK is registered. Costs a global
 * lookup and a comparison per call: the provider is only asked for a tracer when it changed.
 */
function activeTracer(a: OtelApi): TracerLike | undefined {
  const provider = a.trace.getTracerProvider();
  const delegate = typeof provider.getDelegate === 'function' ? provider.getDelegate() : provider;
  if (delegate === seenDelegate) return seenTracer;
  seenDelegate = delegate;
  // Another copy of the API (its CommonJS build beside this ESM one) has no-op providers of its own.
  const noop =
    delegate === noopProvider ||
    (delegate as { constructor?: { name?: string } } | undefined)?.constructor?.name === 'NoopTracerProvider';
  seenTracer = noop ? undefined : provider.getTracer(PACKAGE);
  return seenTracer;
}

// --- The interface the engine and the gateway use ---------------------------------------------------

/** How a guarded tier's call ended when it yielded nothing (guarded-tier.ts sets it). */
export interface TierNote {
  failure?: 'skipped' | 'error' | 'timeout' | 'refused';
}

interface TierLike {
  readonly name: string;
  readonly tier: { readonly type: string };
}

/** Per engine: whether its config lets it trace (`tracing`, default true). */
export class Tracing {
  constructor(readonly enabled: boolean) {}

  /** The tracer, when spans are to be made now; undefined costs the caller nothing more. */
  private tracer(): TracerLike | undefined {
    return this.enabled && api !== undefined ? activeTracer(api) : undefined;
  }

  /**
   * A `strata.lookup` or `strata.update` span under the application's active span; undefined
   * when nothing is traced or the trace is not sampled (then no tier span is made either).
   */
  operation(name: 'strata.lookup' | 'strata.update', llmString: string): Operation | undefined {
    const tracer = this.tracer();
    if (!tracer) return undefined;
    const a = api!;
    const parent = a.context.active();
    const span = tracer.startSpan(name, { kind: KIND.internal }, parent);
    if (!span.isRecording()) return undefined;
    const model = modelName(llmString);
    if (model !== undefined) span.setAttribute('gen_ai.request.model', model);
    return new Operation(a, tracer, span, a.trace.setSpan(parent, span));
  }

  /**
   * A server span for one gateway request, its parent extracted from the request's W3C
   * `traceparent`/`tracestate` by the globally registered propagator (W3C when none is); in a
   * server whose own instrumentation already made a span for the request (the handler mounted
   * in an application), that span is the parent: it read the same headers. Undefined only while
   * nothing is traced.
   */
  server(name: string, headers: IncomingHttpHeaders, attributes: Attributes): Scope | undefined {
    const tracer = this.tracer();
    if (!tracer) return undefined;
    const a = api!;
    const active = a.context.active();
    const own = a.trace.getSpan(active)?.spanContext();
    const parent = own && a.isSpanContextValid(own) ? active : extract(a, headers);
    const span = tracer.startSpan(name, { kind: KIND.server, attributes }, parent);
    // Not sampled (the client's flag, or the sampler), the request still runs in its trace's
    // context: what it calls is then not sampled either (no orphan spans of a trace the client
    // dropped), and no client span rewrites its `traceparent` on the way upstream.
    return new Scope(a, span, a.trace.setSpan(parent, span));
  }

  /**
   * An event on the active span (the gateway's request span), if one records; none under
   * `tracing: false`, whoever's span is active.
   */
  event(name: string, attributes?: Attributes): void {
    if (!this.enabled || api === undefined) return;
    const span = api.trace.getActiveSpan();
    if (span?.isRecording()) span.addEvent(name, attributes);
  }

  /**
   * A client span under the active span (an upstream call), whose context `inject` writes into
   * the outgoing headers; undefined when nothing is traced.
   */
  client(name: string, attributes: Attributes): Scope | undefined {
    const tracer = this.tracer();
    if (!tracer) return undefined;
    const a = api!;
    const parent = a.context.active();
    const span = tracer.startSpan(name, { kind: KIND.client, attributes }, parent);
    if (!span.isRecording()) return undefined;
    return new Scope(a, span, a.trace.setSpan(parent, span));
  }
}

/** A span and the context it is the active span of. */
export class Scope {
  constructor(
    private readonly a: OtelApi,
    readonly span: SpanLike,
    private readonly context: unknown,
  ) {}

  /** Runs `fn` with this span active (its callees' spans become its children). */
  run<R>(fn: () => R): R {
    return this.a.context.with(this.context, fn);
  }

  /** Writes this span's context into outgoing headers (`traceparent`, `tracestate`). */
  inject(headers: Carrier): void {
    inject(this.a, this.context, headers);
  }

  set(key: string, value: AttributeValue | undefined): void {
    if (value !== undefined) this.span.setAttribute(key, value);
  }

  /** Ends the span; `errorType` (a code, never a message) marks it failed. */
  end(errorType?: string): void {
    if (errorType !== undefined) {
      this.span.setAttribute('error.type', errorType);
      this.span.setStatus({ code: STATUS_ERROR });
    }
    this.span.end();
  }
}

/** One traced lookup or update: its span, and the tier spans under it. */
export class Operation {
  /** The tier span of the read under way (lookups read one tier at a time). */
  private current: SpanLike | undefined;
  private note: TierNote = {};

  constructor(
    private readonly a: OtelApi,
    private readonly tracer: TracerLike,
    private readonly span: SpanLike,
    private readonly context: unknown,
  ) {}

  private tierSpan(m: TierLike, op: 'lookup' | 'update'): SpanLike {
    return this.tracer.startSpan(
      op === 'lookup' ? 'strata.tier.lookup' : 'strata.tier.update',
      { kind: KIND.internal, attributes: { 'strata.tier.name': m.name, 'strata.tier.kind': m.tier.type } },
      this.context,
    );
  }

  /** Runs one tier's read under its own span; `readDone` ends it with the outcome. */
  read<R>(m: TierLike, read: (note: TierNote) => R): R {
    const span = this.tierSpan(m, 'lookup');
    this.current = span;
    const note: TierNote = {};
    this.note = note;
    return this.a.context.with(this.a.trace.setSpan(this.context, span), () => read(note));
  }

  /** The read under way ended: `payload` is what the tier had, `hit` whether it answered. */
  readDone(read: string | { payload: string; similarity?: number } | undefined, hit: boolean): void {
    const span = this.current;
    if (!span) return;
    this.current = undefined;
    const outcome = hit ? 'hit' : (this.note.failure ?? 'miss');
    span.setAttribute('strata.tier.outcome', outcome === 'timeout' ? 'error' : outcome);
    if (read !== undefined) {
      const payload = typeof read === 'string' ? read : read.payload;
      span.setAttribute('strata.tier.bytes', Buffer.byteLength(payload));
      if (hit && typeof read !== 'string' && read.similarity !== undefined)
        span.setAttribute('strata.tier.similarity', read.similarity);
    }
    endTier(span, outcome);
  }

  /** One tier's write under its own span, ended when it settles. */
  async write(m: TierLike, write: (note: TierNote) => Promise<boolean>, bytes: number): Promise<boolean> {
    const span = this.tierSpan(m, 'update');
    span.setAttribute('strata.tier.bytes', bytes);
    const note: TierNote = {};
    const stored = await this.a.context.with(this.a.trace.setSpan(this.context, span), () => write(note));
    const outcome = stored ? 'stored' : (note.failure ?? 'skipped');
    span.setAttribute('strata.tier.outcome', outcome === 'timeout' ? 'error' : outcome);
    endTier(span, outcome);
    return stored;
  }

  /** A caller waiting for another caller's answer to the same key: its own span, ended by the returned function. */
  wait(scope: 'process' | 'instances'): (answered: boolean) => void {
    const span = this.tracer.startSpan(
      'strata.coalesce.wait',
      { kind: KIND.internal, attributes: { 'strata.coalesce.scope': scope } },
      this.context,
    );
    return (answered) => {
      span.setAttribute('strata.coalesce.answered', answered);
      span.end();
    };
  }

  /** The lookup ended: its outcome, the tier that answered, and the answer's usage (what the hit saved). */
  endLookup(hit: Hit | undefined): void {
    const { span } = this;
    if (!hit) {
      span.setAttribute('strata.cache.outcome', 'miss');
    } else {
      span.setAttribute('strata.cache.outcome', hit.coalesced ? 'coalesced' : 'hit');
      span.setAttribute('strata.cache.tier', hit.tier);
      if (hit.similarity !== undefined) span.setAttribute('strata.cache.similarity', hit.similarity);
      setUsage(span, hit.entry.gens);
    }
    span.end();
  }

  /** The update ended: stored in how many tiers (or not storable at all), with the answer's usage. */
  endUpdate(gens: StoredGenerationData[], storedIn: number | 'unstorable'): void {
    const { span } = this;
    if (storedIn === 'unstorable') span.setAttribute('strata.update.outcome', 'unstorable');
    else {
      span.setAttribute('strata.update.outcome', storedIn > 0 ? 'stored' : 'not-stored');
      span.setAttribute('strata.update.tiers', storedIn);
      setUsage(span, gens);
    }
    span.end();
  }
}

function endTier(span: SpanLike, outcome: string): void {
  if (outcome === 'error' || outcome === 'timeout') {
    span.setAttribute('error.type', outcome);
    span.setStatus({ code: STATUS_ERROR });
  }
  span.end();
}

function setUsage(span: SpanLike, gens: StoredGenerationData[]): void {
  const usage = tokenUsage(gens);
  if (!usage) return;
  span.setAttribute('gen_ai.usage.input_tokens', usage.inputTokens);
  span.setAttribute('gen_ai.usage.output_tokens', usage.outputTokens);
}

/** The model of each llm string seen (bounded, like the savings' memo). */
const models = new Map<string, string | undefined>();
function modelName(llmString: string): string | undefined {
  let model = models.get(llmString);
  if (model === undefined && !models.has(llmString)) {
    const found = modelOf(llmString);
    model = found === 'unknown' ? undefined : found;
    if (models.size < 1_024) models.set(llmString, model);
  }
  return model;
}

// --- Propagation ----------------------------------------------------------------------------------

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A propagator is registered when it names the fields it reads (the API's no-op one names none). */
function hasPropagator(a: OtelApi): boolean {
  return a.propagation.fields().length > 0;
}

function extract(a: OtelApi, headers: IncomingHttpHeaders): unknown {
  if (hasPropagator(a)) return a.propagation.extract(a.ROOT_CONTEXT, headers);
  // W3C Trace Context, as @opentelemetry/core's propagator reads it.
  const match = TRACEPARENT.exec(first(headers.traceparent)?.trim() ?? '');
  if (!match || match[1] === 'ff' || (match[1] === '00' && match[5] !== undefined)) return a.ROOT_CONTEXT;
  const spanContext: SpanContextLike = {
    traceId: match[2]!,
    spanId: match[3]!,
    traceFlags: Number.parseInt(match[4]!, 16),
    isRemote: true,
  };
  if (!a.isSpanContextValid(spanContext)) return a.ROOT_CONTEXT;
  const state = headers.tracestate;
  if (state !== undefined)
    spanContext.traceState = a.createTraceState(Array.isArray(state) ? state.join(',') : state);
  return a.trace.setSpanContext(a.ROOT_CONTEXT, spanContext);
}

function inject(a: OtelApi, context: unknown, headers: Carrier): void {
  if (hasPropagator(a)) {
    a.propagation.inject(context, headers);
    return;
  }
  const sc = a.trace.getSpan(context)?.spanContext();
  if (!sc || !a.isSpanContextValid(sc)) return;
  headers.traceparent = `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`;
  const state = sc.traceState?.serialize();
  if (state) headers.tracestate = state;
  else delete headers.tracestate;
}
