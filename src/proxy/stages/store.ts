/**
 * The store half of the tee: a complete answer written to the engine as one generation, with its
 * usage, lifetime, the caller's key tags and, when the upstream stored it too, for which account.
 */
import { STORED_PROMPT_CHARS, type StoredGenerationData } from '../../core/entry.js';
import type { Json } from '../endpoints/endpoint.js';
import { keyTags } from '../tenancy.js';
import { STORED_UPSTREAM, storeAccount } from '../upstream-store.js';
import { type CachedRequest, type GatewayContext, sealedWith } from './context.js';

export async function store(ctx: GatewayContext, request: CachedRequest, answer: Json): Promise<boolean> {
  const { endpoint, controls } = request;
  const response = endpoint.echo ? endpoint.echo.stored(answer) : answer;
  const usage = endpoint.usage(response);
  const gens: StoredGenerationData[] = [
    {
      text: endpoint.text(response),
      generationInfo: {
        response,
        ...(usage
          ? {
              tokenUsage: {
                promptTokens: usage.inputTokens,
                completionTokens: usage.outputTokens,
                totalTokens: usage.totalTokens,
              },
            }
          : {}),
      },
    },
  ];
  const ttlSeconds = controls.ttlSeconds ?? ctx.defaultTtlSeconds;
  // Whether (and for whom) the upstream kept this answer under its id: see flight.ts, answerOf().
  const account = storeAccountOf(request);
  await ctx.manager.update(request.key, gens, {
    ttlMs: ttlSeconds === null ? null : ttlSeconds * 1000,
    // Kept past its TTL for stale-if-error (core/stale.ts); unset: the config's grace.
    ...(controls.staleIfErrorSeconds === undefined ? {} : { staleMs: controls.staleIfErrorSeconds * 1000 }),
    // How `strata clear --tenant-key-env` finds this caller's entries (digests, never the keys).
    tags: keyTags(request.caller.credentials),
    ...(account === undefined ? {} : { metadata: { [STORED_UPSTREAM]: account } }),
    // A request may be 32 MiB: a longer prompt is stored as its digest and an excerpt.
    maxPromptChars: STORED_PROMPT_CHARS,
    ...sealedWith(request),
  });
  return true;
}

/** The account the upstream stores this request's answer for (upstream-store.ts), if it does. */
export function storeAccountOf(request: CachedRequest): string | undefined {
  return storeAccount(request.asksToStore, request.upstream, request.caller);
}
