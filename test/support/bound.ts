/**
 * For tests of the semantic tier under `maxErrorRate` (tiers/semantic/bound/): an embedder that
 * places each question at a chosen similarity from one anchor question, so every lookup's
 * similarity is known, and the steps of a lookup as the manager takes them. The fakes are the
 * embedder and the model (whose answers the tests write); the tier and its store are real.
 */
import { entryAad } from '../../src/core/encryption/at-rest.js';
import type { Sealer } from '../../src/core/encryption/keyring.js';
import { encodeEntry, newEntry } from '../../src/core/entry.js';
import { type CacheKey, deriveKey } from '../../src/core/key.js';
import type { Embedder } from '../../src/tiers/semantic/embedders/embedder.js';
import type { SemanticTier } from '../../src/tiers/semantic/index.js';

/** Each question's own direction, the same for every embedder of the test process (a fleet's processes agree). */
const own = new Map<string, number>();

/**
 * Similarity of each question to the anchor, by its text ("q<similarity> <name>"); the rest of
 * each question's vector is a direction of its own, so two questions are only as similar as the
 * product of their similarities to the anchor (0.9 and 0.9: 0.81), never each other's neighbours.
 */
export function angledEmbedder(): Embedder {
  return {
    id: 'angled-test-v1',
    async embed(texts) {
      return texts.map((t) => {
        const similarity = t === 'anchor' ? 1 : Number(/^q([\d.]+) /.exec(t)?.[1] ?? 0);
        if (!own.has(t)) own.set(t, 1 + own.size);
        const v = new Float32Array(2000);
        v[0] = similarity;
        // Up to 1999 questions per test process have directions of their own.
        v[own.get(t)! % 2000] = Math.sqrt(Math.max(0, 1 - similarity * similarity));
        return v;
      });
    },
  };
}

export const LLM = 'model-a';
let asked = 0;
/** A new question `similarity` from the anchor. */
export function question(similarity: number, namespace = 'ns', llm = LLM): CacheKey {
  return deriveKey(namespace, llm, `q${similarity} ${asked++}`);
}

export function stored(key: CacheKey, answer: string, sealer?: Sealer) {
  const entry = encodeEntry(newEntry(key, [{ text: answer }], { now: 0, storePrompt: false }));
  return sealer
    ? { ...entry, payload: sealer.seal(entry.payload, entryAad(key.namespace, key.hash)) }
    : entry;
}

export const ANSWER = 'The anchor answer, which is long enough to be compared as prose by the judge itself.';

/** The cached anchor entry every question is compared with. */
export async function anchor(
  t: SemanticTier,
  namespace = 'ns',
  llm = LLM,
  sealer?: Sealer,
): Promise<CacheKey> {
  const key = deriveKey(namespace, llm, 'anchor');
  await t.set(key, stored(key, ANSWER, sealer), sealer ? { sealer } : undefined);
  return key;
}

/** A lookup; on a miss the model answers `answer` and the answer is stored (as the manager does). */
export async function ask(t: SemanticTier, key: CacheKey, answer: string, sealer?: Sealer): Promise<boolean> {
  const call = sealer ? { sealer } : undefined;
  const match = await t.get(key, call);
  if (match) return true;
  await t.set(key, stored(key, answer, sealer), call);
  await t.settle();
  return false;
}

/**
 * Ten paraphrases of "How do I change the email on my account?" (through withCache and the
 * gateway), within 0.02 of it and of each other with lexical embeddings.
 */
export const PARAPHRASES = [
  ...['can', 'would', 'should', 'could', 'might', 'must'].map(
    (w) => `How ${w} I change the email on my account?`,
  ),
  'How do I change the email on my account please?',
  'So how do I change the email on my account?',
  'How do I change the email on my account, please?',
  'Please, how do I change the email on my account?',
];
