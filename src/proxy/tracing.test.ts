/**
 * The gateway's traces (proxy/tracing.ts) with the real SDK, spans in memory, in front of the fake
 * LLM API: a request's span joins the client's trace (its `traceparent`), the lookup and the
 * upstream call are its children, and the upstream receives the same trace, parented to the
 * upstream call's span; no credential, prompt or answer is recorded.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';
import { everythingRecorded, type InstalledSdk, installSdk } from '../../test/support/otel.js';

const id = randomBytes(4).toString('hex');
const CANARY_KEY = `sk-canary${id}abcdefghijklmnopqrstuvwxyz012345`;
const TRACE_ID = randomBytes(16).toString('hex');
const CLIENT_SPAN = randomBytes(8).toString('hex');
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;

let sdk: InstalledSdk;
let gateway: TestGateway | undefined;
beforeAll(() => {
  sdk = installSdk();
});
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  sdk.memory.reset();
  propagation.disable();
  vi.restoreAllMocks();
});
afterAll(async () => {
  await sdk.uninstall();
});

async function ask(prompt: string, stream = false, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(`${gateway!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${CANARY_KEY}`,
      traceparent: TRACEPARENT,
      tracestate: 'vendor=abc',
      ...headers,
    },
    body: JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: prompt }] }),
  });
  await res.text();
  return res;
}

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const named = (name: string) => sdk.spans().filter((s) => s.name === name);
/** The request span ends when its response closes, just after the client has read it. */
async function requestSpans(count: number): Promise<ReadableSpan[]> {
  await vi.waitFor(() => expect(named('strata.gateway.request')).toHaveLength(count));
  return named('strata.gateway.request');
}

describe('gateway traces', () => {
  it.each([
    ['W3C Trace Context read by the gateway itself (no propagator registered)', false],
    ['the registered propagator', true],
  ])('joins the client trace and passes it upstream: %s', async (_, registered) => {
    const propagator = new W3CTraceContextPropagator();
    const extract = vi.spyOn(propagator, 'extract');
    if (registered) propagation.setGlobalPropagator(propagator);
    gateway = await startGateway();
    const prompt = `canary prompt ${id} ${registered}`;
    expect((await ask(prompt)).headers.get('x-strata-cache')).toBe('miss');
    expect((await ask(prompt)).headers.get('x-strata-cache')).toBe('hit');
    expect(extract).toHaveBeenCalledTimes(registered ? 2 : 0);
    const [miss, hit] = await requestSpans(2);
    for (const s of [miss!, hit!]) {
      expect(s.spanContext().traceId).toBe(TRACE_ID);
      expect(parentOf(s)).toBe(CLIENT_SPAN);
      expect(s.attributes).toMatchObject({
        'http.request.method': 'POST',
        'http.route': '/v1/chat/completions',
        'http.response.status_code': 200,
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.provider.name': 'openai',
      });
    }
    expect(miss!.attributes['strata.cache.outcome']).toBe('miss');
    expect(hit!.attributes).toMatchObject({ 'strata.cache.outcome': 'hit', 'strata.cache.tier': 'memory' });
    const lookups = named('strata.lookup');
    expect(lookups.map(parentOf)).toEqual([miss!.spanContext().spanId, hit!.spanContext().spanId]);
    const upstream = named('strata.gateway.upstream');
    expect(upstream).toHaveLength(1);
    expect(parentOf(upstream[0]!)).toBe(miss!.spanContext().spanId);
    expect(upstream[0]!.attributes).toMatchObject({
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'gen_ai.provider.name': 'openai',
    });
    // The provider sees the same trace, its parent being the gateway's upstream call.
    const calls = gateway.fake.calls;
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers.traceparent).toBe(`00-${TRACE_ID}-${upstream[0]!.spanContext().spanId}-01`);
    expect(calls[0]!.headers.tracestate).toBe('vendor=abc');
    const recorded = everythingRecorded(sdk.spans());
    for (const secret of [id, CANARY_KEY, 'Bearer', 'vendor=abc']) expect(recorded).not.toContain(secret);
  });

  it('marks a stream’s first byte and end on the request span', async () => {
    gateway = await startGateway();
    const res = await ask(`canary stream ${id}`, true);
    expect(res.headers.get('x-strata-cache')).toBe('miss');
    const [request] = await requestSpans(1);
    expect(request!.events.map((e) => e.name)).toEqual([
      'strata.upstream.first_byte',
      'strata.upstream.stream_end',
    ]);
    expect(named('strata.update')).toHaveLength(1);
  });

  it('starts a trace of its own for a request without traceparent', async () => {
    gateway = await startGateway();
    await ask(`canary fresh ${id}`, false, { traceparent: '', tracestate: '' });
    const [request] = await requestSpans(1);
    expect(request!.spanContext().traceId).not.toBe(TRACE_ID);
    expect(parentOf(request!)).toBeUndefined();
    expect(gateway.fake.calls[0]!.headers.traceparent).toContain(request!.spanContext().traceId);
  });

  it.each([true, false])(
    'mounted in an application server that traces its requests (tracing: %s)',
    async (tracing) => {
      gateway = await startGateway({ config: { tracing } });
      const { proxy } = gateway;
      // What an HTTP server instrumentation does: the request's own span is active in the handler.
      const app = http.createServer((req, res) =>
        trace.getTracer('app').startActiveSpan('app.http', (span) => {
          res.once('close', () => span.end());
          void proxy.handle(req, res);
        }),
      );
      await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
      try {
        const port = (app.address() as AddressInfo).port;
        const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${CANARY_KEY}` },
          body: JSON.stringify({
            model: 'gpt-4o-mini',
            stream: true,
            messages: [{ role: 'user', content: `canary mounted ${id} ${tracing}` }],
          }),
        });
        await res.text();
      } finally {
        await new Promise((resolve) => app.close(resolve));
      }
      await vi.waitFor(() => expect(named('app.http')).toHaveLength(1));
      const outer = named('app.http')[0]!;
      if (tracing) {
        const [request] = await requestSpans(1);
        expect(parentOf(request!)).toBe(outer.spanContext().spanId);
        expect(request!.spanContext().traceId).toBe(outer.spanContext().traceId);
      } else {
        // Nothing of Strata's: no span, and no event on the application's span.
        expect(sdk.spans().map((s) => s.name)).toEqual(['app.http']);
        expect(outer.events).toEqual([]);
      }
    },
  );

  it('a client trace that is not sampled stays unsampled: no span at all, its traceparent upstream as it came', async () => {
    gateway = await startGateway();
    const unsampled = `00-${TRACE_ID}-${CLIENT_SPAN}-00`;
    await ask(`canary unsampled ${id}`, false, { traceparent: unsampled });
    await ask(`canary unsampled stream ${id}`, true, { traceparent: unsampled });
    expect(gateway.fake.calls.map((c) => c.headers.traceparent)).toEqual([unsampled, unsampled]);
    // Nothing the request did (lookup, update, upstream call) became a trace of its own.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sdk.spans()).toEqual([]);
  });

  it('under tracing: false makes no span and forwards the client’s traceparent as it came', async () => {
    gateway = await startGateway({ config: { tracing: false } });
    await ask(`canary off ${id}`);
    expect(gateway.fake.calls[0]!.headers.traceparent).toBe(TRACEPARENT);
    expect(sdk.spans()).toEqual([]);
  });
});
