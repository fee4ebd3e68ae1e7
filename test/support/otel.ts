/**
 * The OpenTelemetry SDK as an application installs it, for the tracing tests and benchmark: the
 * AsyncLocalStorage context manager and a TracerProvider registered globally, its spans kept in
 * memory (or sent where `exporter` says). `uninstall()` takes every global back out, so the next
 * test file of a worker that shares modules starts without an SDK.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

export interface InstalledSdk {
  readonly provider: TracerProvider;
  /** The in-memory exporter (empty when another exporter was given). */
  readonly memory: InMemorySpanExporter;
  spans(): ReadableSpan[];
  /** The names of the spans started so far, ended or not. */
  readonly started: string[];
  uninstall(): Promise<void>;
}

export function installSdk(
  o: { sampler?: Sampler; exporter?: SpanExporter; serviceName?: string } = {},
): InstalledSdk {
  const memory = new InMemorySpanExporter();
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const started: string[] = [];
  const starts: SpanProcessor = {
    onStart: (span) => void started.push(span.name),
    onEnd: () => {},
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const provider = new TracerProvider({
    ...(o.sampler ? { sampler: o.sampler } : {}),
    ...(o.serviceName ? { resource: resourceFromAttributes({ 'service.name': o.serviceName }) } : {}),
    spanProcessors: [starts, new SimpleSpanProcessor({ exporter: o.exporter ?? memory })],
  });
  trace.setGlobalTracerProvider(provider);
  return {
    provider,
    memory,
    started,
    spans: () => memory.getFinishedSpans(),
    async uninstall() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** Every name, attribute key and value and event of the spans, as one string: to search for what must never be there. */
export function everythingRecorded(spans: readonly ReadableSpan[]): string {
  return JSON.stringify(
    spans.map((s) => ({
      name: s.name,
      attributes: s.attributes,
      events: s.events.map((e) => ({ name: e.name, attributes: e.attributes })),
      status: s.status,
      resource: s.resource.attributes,
    })),
  );
}
