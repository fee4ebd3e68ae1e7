/**
 * OpenAI `POST /v1/embeddings`, cached per input (LiteLLM does the same): a batch of 100 inputs of
 * which 90 were embedded before sends the other 10 upstream, in one request, and is answered with
 * all 100 in its order.
 *
 * Each input is its own entry, keyed as any gateway request (the caller's tenant, the model, the
 * request's other fields but `user` and the like, the query string, the body's `cache.namespace`)
 * with the input alone as its text, and `encoding_format` as sent (absent is `float`): a base64
 * vector never answers a float request or the other way round. Item keys are `exact`: a
 * similarity tier neither indexes nor answers them (another text's vector is a wrong answer).
 *
 * A miss's inputs go upstream in the request's own form (a string, strings, token ids), each
 * distinct input once, with every other field as the client sent it; the client's bytes when
 * nothing was taken out. The answer is checked (one embedding per input sent, each index once)
 * before any of it is stored or served; an upstream error is passed on as it came, and nothing is
 * stored. What the response's `usage` says: see `usageFor`.
 */
import type { ServerResponse } from 'node:http';
import type { CacheKey } from '../../core/key.js';
import { scrubRequestBody } from '../../core/secrets.js';
import { sendError, sendNotCached } from '../api-error.js';
import { readUpTo } from '../body.js';
import { canonicalJson, count, isObject, type Json, OPENAI_IGNORED } from '../endpoints/endpoint.js';
import type { EngineHit } from '../engine.js';
import { hitObject, STRATA_FIELD } from '../hit-usage.js';
import { modelLabel, UNVERIFIED_MODEL } from '../metrics.js';
import { type CachedRequest, changed, type GatewayContext, logCall, sealedWith } from '../stages/context.js';
import { keyOf } from '../stages/key.js';
import { parseJson } from '../stages/parse.js';
import { store } from '../stages/store.js';
import { asUpstreamError, clientHeaders, type UpstreamResponse } from '../upstream.js';
import { describe } from '../upstream-log.js';
import { type Inputs, type Item, inputFor, inputsOf, itemText, shareOut, weightOf } from './items.js';

/** One distinct input of the request: its key, and the positions it holds in the batch. */
interface Slot {
  readonly item: Item;
  readonly key: CacheKey;
  readonly positions: number[];
  /** Its stored single-input response, when the cache had it. */
  hit?: { response: Json; tier: string; ageSeconds: number };
  /** Its single-input response from this call's upstream answer. */
  fresh?: Json;
}

/** Answers one embeddings request from its inputs' entries and, for those it lacks, one upstream call. */
export async function serveEmbeddings(
  ctx: GatewayContext,
  request: CachedRequest,
  namespace: string,
  res: ServerResponse,
): Promise<void> {
  const { endpoint, canonical, controls } = request;
  const inputs = inputsOf(request.body.input);
  const slots = slotsOf(request, namespace, inputs);
  const unique = [...slots.values()];
  if (!controls.noCache)
    await Promise.all(
      unique.map(async (slot) => {
        const hit = await ctx.manager.lookup(slot.key, {
          claim: false,
          wait: 'never',
          ...sealedWith(request),
        });
        if (hit) slot.hit = usable(ctx, request, slot.key, hit);
      }),
    );
  const missing = unique.filter((s) => !s.hit);
  const positions = inputs.items.length;
  if (missing.length > 0 && controls.onlyIfCached) {
    for (let i = 0; i < positions; i++) ctx.counters.request(endpoint.label, UNVERIFIED_MODEL, 'miss');
    return sendNotCached(res, endpoint.api);
  }
  let answer: Json | undefined;
  let upstreamHeaders: Record<string, string | string[]> = {};
  if (missing.length > 0) {
    const called = await callUpstream(ctx, request, inputs, missing, slots.size, res);
    if (called.kind === 'error') {
      for (let i = 0; i < positions; i++) ctx.counters.request(endpoint.label, UNVERIFIED_MODEL, 'error');
      return called.send();
    }
    answer = called.answer;
    upstreamHeaders = called.headers;
  }
  // Counted per input: served from the cache (and its tokens saved), sent upstream, or a repeat
  // of one sent (coalesced, as a request that joined another's call).
  for (const slot of unique) {
    const usage = slot.hit && endpoint.usage(slot.hit.response);
    slot.positions.forEach((_, i) => {
      ctx.counters.request(
        endpoint.label,
        canonical.model,
        slot.hit ? 'hit' : i === 0 ? 'miss' : 'coalesced',
      );
      if (usage) ctx.counters.saved(endpoint.label, canonical.model, usage);
    });
  }
  // Stored before the answer goes out (the memory tier takes it at once), awaited after.
  const stored = controls.noStore
    ? []
    : missing.map((slot) => store(ctx, changed(request, { key: slot.key }), slot.fresh!).catch(() => false));
  send(res, assemble(ctx, inputs, slots, unique, answer), unique, upstreamHeaders);
  await Promise.all(stored);
}

/** Each distinct input once, keyed; in the order of its first position. */
function slotsOf(request: CachedRequest, namespace: string, inputs: Inputs): Map<string, Slot> {
  const { endpoint, canonical, controls } = request;
  // The fields that decide every vector of the request, as the whole-request key has them, with
  // `encoding_format` spelled out: absent is float (the API's default), and float and base64
  // requests never share an entry (a float read back from base64 is another value's text).
  const params: Json = Object.create(null);
  for (const [k, v] of Object.entries(scrubRequestBody(request.body)))
    if (!OPENAI_IGNORED.has(k) && k !== 'input') params[k] = v;
  params.encoding_format ??= 'float';
  const head = canonicalJson(params);
  const search = new URL(`http://x${request.target}`).search;
  const slots = new Map<string, Slot>();
  inputs.items.forEach((item, position) => {
    const prompt = `${head}\n${itemText(item)}`;
    const key: CacheKey = {
      ...keyOf(namespace, endpoint, { ...canonical, prompt }, controls, search),
      exact: true,
    };
    const slot = slots.get(key.hash);
    if (slot) slot.positions.push(position);
    else slots.set(key.hash, { item, key, positions: [position] });
  });
  return slots;
}

/** A stored entry that may answer this input: its own key's, one embedding of the requested encoding, fresh enough. */
function usable(
  ctx: GatewayContext,
  request: CachedRequest,
  key: CacheKey,
  hit: EngineHit,
): Slot['hit'] | undefined {
  if (hit.entry.k !== key.hash || hit.similarity !== undefined) return undefined;
  const response = hit.entry.gens[0]?.generationInfo?.response;
  if (!isObject(response) || !Array.isArray(response.data) || response.data.length !== 1) return undefined;
  if (!request.endpoint.isResponse(response) || !isEmbedding(response.data[0], encodingOf(request.body)))
    return undefined;
  const ageSeconds = Math.max(0, (ctx.manager.now() - hit.entry.createdAt) / 1000);
  const { maxAgeSeconds } = request.controls;
  if (maxAgeSeconds !== undefined && ageSeconds > maxAgeSeconds) return undefined;
  return { response, tier: hit.tier, ageSeconds };
}

type Called =
  | { kind: 'answer'; answer: Json; headers: Record<string, string | string[]> }
  | { kind: 'error'; send: () => void };

/**
 * The missing inputs sent upstream in one request; on success each slot holds its fresh
 * single-input response. An error status is passed on as it came, a failure as the gateway's error.
 */
async function callUpstream(
  ctx: GatewayContext,
  request: CachedRequest,
  inputs: Inputs,
  missing: Slot[],
  distinct: number,
  res: ServerResponse,
): Promise<Called> {
  const { endpoint, canonical } = request;
  // Every input, each once and in order: the client's own bytes go.
  const whole = missing.length === inputs.items.length && distinct === inputs.items.length;
  const body = whole
    ? (request.raw ?? Buffer.from(JSON.stringify(request.body)))
    : Buffer.from(
        JSON.stringify({
          ...request.body,
          input: inputFor(
            inputs.form,
            missing.map((s) => s.item),
          ),
        }),
      );
  const abort = new AbortController();
  const onClose = () => abort.abort();
  res.once('close', onClose);
  const failed = (error: unknown, where?: 'mid-response'): Called => {
    const failure = asUpstreamError(error);
    if (!abort.signal.aborted) logCall(ctx, request, describe(failure, where));
    return {
      kind: 'error',
      send: () => sendError(res, endpoint.api, failure.status, failure.message, 'miss', failure.code),
    };
  };
  let upstream: UpstreamResponse;
  try {
    upstream = await ctx.upstreams.send(request.upstream, {
      method: 'POST',
      path: request.target,
      headers: { ...request.headers, 'accept-encoding': 'identity', 'content-type': 'application/json' },
      caller: request.caller,
      body,
      signal: abort.signal,
    });
  } catch (error) {
    res.off('close', onClose);
    return failed(error);
  }
  const { status } = upstream;
  ctx.counters.upstream(endpoint.label, modelLabel(canonical.model, status), status);
  let bytes: Buffer | undefined;
  try {
    bytes = await readUpTo(upstream.body, ctx.config.maxStreamBytes);
  } catch (error) {
    return failed(error, 'mid-response');
  } finally {
    res.off('close', onClose);
    upstream.body.destroy();
  }
  const headers = clientHeaders(upstream.headers, false);
  const passOn = (why?: string): Called => {
    if (why) logCall(ctx, request, why);
    return {
      kind: 'error',
      send: () => {
        if (res.headersSent || res.destroyed) return;
        res.writeHead(status, {
          ...headers,
          'content-length': String(bytes!.length),
          'x-strata-cache': 'miss',
        });
        res.end(bytes);
      },
    };
  };
  if (!bytes) {
    logCall(ctx, request, 'answered with a body over maxStreamBytes');
    return {
      kind: 'error',
      send: () => sendError(res, endpoint.api, 502, 'the upstream answered with an oversized body', 'miss'),
    };
  }
  if (status !== 200) return passOn(`answered ${status}`);
  const answer = parseJson(bytes);
  const sent = fitted(answer, missing.length, encodingOf(request.body));
  if (!sent) {
    // Nothing to reassemble: the client gets what the upstream said, unstored, as it would have.
    if (whole) return passOn('answered 200 with a body that is not one embedding per input');
    logCall(ctx, request, 'answered 200 with a body that is not one embedding per input');
    return {
      kind: 'error',
      send: () =>
        sendError(
          res,
          endpoint.api,
          502,
          "the upstream's answer does not hold one embedding per input sent",
          'miss',
        ),
    };
  }
  const { data: _, usage, ...top } = answer as Json;
  const billed = isObject(usage) ? count(usage.prompt_tokens) : undefined;
  const shares =
    billed === undefined
      ? undefined
      : shareOut(
          billed,
          missing.map((s) => weightOf(s.item)),
        );
  missing.forEach((slot, i) => {
    slot.fresh = {
      object: 'list',
      ...top,
      data: [{ ...sent[i]!, index: 0 }],
      ...(shares ? { usage: { prompt_tokens: shares[i]!, total_tokens: shares[i]! } } : {}),
    };
  });
  return { kind: 'answer', answer: answer as Json, headers };
}

/** The upstream's embeddings by index, when it holds exactly one well-formed embedding per input sent. */
function fitted(answer: unknown, n: number, encoding: string): Json[] | undefined {
  if (!isObject(answer) || !Array.isArray(answer.data) || answer.data.length !== n) return undefined;
  const out: Json[] = new Array(n);
  for (const d of answer.data) {
    if (!isObject(d) || !isEmbedding(d, encoding)) return undefined;
    const i = d.index;
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= n || out[i]) return undefined;
    out[i] = d;
  }
  return out;
}

function isEmbedding(d: unknown, encoding: string): d is Json {
  if (!isObject(d) || d.object !== 'embedding') return false;
  const e = d.embedding;
  return encoding === 'base64'
    ? typeof e === 'string'
    : Array.isArray(e) && e.every((x) => typeof x === 'number');
}

function encodingOf(body: Json): string {
  return typeof body.encoding_format === 'string' ? body.encoding_format : 'float';
}

/** The response in the request's order: each position's embedding with its own index. */
function assemble(
  ctx: GatewayContext,
  inputs: Inputs,
  slots: Map<string, Slot>,
  unique: Slot[],
  answer: Json | undefined,
): Json {
  const data: Json[] = new Array(inputs.items.length);
  for (const slot of slots.values()) {
    const one = (slot.hit?.response ?? slot.fresh!).data as Json[];
    for (const position of slot.positions) data[position] = { ...one[0]!, index: position };
  }
  // The upstream's answer (or a stored one) with its fields in their order; usage last, as sent.
  const out: Json = { ...(answer ?? unique[0]!.hit!.response), data };
  delete out.usage;
  delete out[STRATA_FIELD];
  return Object.assign(out, usageFor(ctx, unique, answer));
}

/**
 * The response's usage. Under `hitUsage: "zero"` (default) it is what the upstream billed for
 * this request, the call's own usage as it came (zero with no call), and the inputs the cache
 * answered are under `strata: { cache: "hit" | "partial", usage }` with what they cost when
 * embedded, as a hit reports it (hit-usage.ts). Under `"original"` it is both added up: what
 * the batch would have been billed uncached. The cost of one input of a batch is its share of
 * the batch's bill (items.ts, shareOut), so that sum is exact for a batch served whole from one
 * earlier call, and otherwise close.
 */
function usageFor(ctx: GatewayContext, unique: Slot[], answer: Json | undefined): Json {
  let cached = 0;
  let hits = 0;
  for (const slot of unique)
    if (slot.hit) {
      const usage = slot.hit.response.usage;
      const n = isObject(usage) ? (count(usage.prompt_tokens) ?? 0) : 0;
      cached += n * slot.positions.length;
      hits++;
    }
  const upstream = isObject(answer?.usage) ? (answer.usage as Json) : undefined;
  if (hits === 0) return upstream ? { usage: upstream } : {};
  const billed = upstream ?? { prompt_tokens: 0, total_tokens: 0 };
  const stored = { prompt_tokens: cached, total_tokens: cached };
  if (ctx.config.hitUsage === 'original') {
    const add = (a: unknown, b: number) => (typeof a === 'number' ? a + b : b);
    return {
      usage: {
        ...billed,
        prompt_tokens: add(billed.prompt_tokens, cached),
        total_tokens: add(billed.total_tokens, cached),
      },
    };
  }
  const shown = hitObject({ usage: billed }, stored);
  if (!answer) return shown;
  // Part of it came from the upstream: its usage stands as billed, not zeroed.
  return { usage: billed, [STRATA_FIELD]: { cache: 'partial', usage: stored } };
}

function send(
  res: ServerResponse,
  response: Json,
  unique: Slot[],
  upstreamHeaders: Record<string, string | string[]>,
): void {
  if (res.headersSent || res.destroyed) return;
  let hits = 0;
  let misses = 0;
  const tiers = new Set<string>();
  let age = 0;
  for (const slot of unique) {
    if (slot.hit) {
      hits += slot.positions.length;
      tiers.add(slot.hit.tier);
      age = Math.max(age, slot.hit.ageSeconds);
    } else misses += slot.positions.length;
  }
  const cache = misses === 0 ? 'hit' : hits === 0 ? 'miss' : 'partial';
  const body = Buffer.from(JSON.stringify(response));
  const headers: Record<string, string | string[]> = {
    ...upstreamHeaders,
    'content-type': 'application/json',
    'content-length': String(body.length),
    'x-strata-cache': cache,
    'x-strata-hits': String(hits),
    'x-strata-misses': String(misses),
  };
  if (cache === 'hit') {
    if (tiers.size === 1) headers['x-strata-tier'] = [...tiers][0]!;
    headers.age = String(Math.floor(age));
  }
  res.writeHead(200, headers);
  res.end(body);
}
