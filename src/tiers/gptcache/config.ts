/** Config fields, defaults and rules of this tier (its definition.ts names it). Importing this never loads the driver or its client library. */
import { z } from 'zod';
import { common, positiveInt } from '../../config/fields.js';

export const gptcacheTierSchema = z.strictObject({
  type: z.literal('gptcache'),
  ...common,
  /** Base URL of a GPTCache server (its gptcache_server FastAPI app). */
  url: z.string().regex(/^https?:\/\//, 'must start with http:// or https://'),
  /** How that server matches: `exact` (map data manager) or `semantic` (embeddings + vector store). */
  mode: z.enum(['exact', 'semantic']).default('semantic'),
  /** Answers written by other GPTCache clients (not Strata entries): served as plain text, or ignored. */
  foreignAnswers: z.enum(['text', 'ignore']).default('text'),
  /** Most concurrent HTTP connections to the server. */
  poolSize: positiveInt.max(1000).default(16),
});

export type GptcacheTierConfig = z.output<typeof gptcacheTierSchema>;
