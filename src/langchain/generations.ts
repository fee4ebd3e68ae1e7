/**
 * LangChain generations <-> the plain data an entry stores. LangChain's own
 * serializeGeneration drops generationInfo (finish reasons, logprobs); it is kept here.
 */
import { deserializeStoredGeneration, serializeGeneration } from '@langchain/core/caches';
import type { Generation } from '@langchain/core/outputs';
import type { StoredGenerationData } from '../core/entry.js';

export function toStored(generation: Generation): StoredGenerationData {
  const stored = serializeGeneration(generation) as StoredGenerationData;
  if (generation.generationInfo && Object.keys(generation.generationInfo).length > 0) {
    stored.generationInfo = generation.generationInfo;
  }
  return stored;
}

/** Builds new objects on every call: nothing a caller does to them reaches the cache. */
export function fromStored(stored: StoredGenerationData): Generation {
  const generation: Generation = deserializeStoredGeneration(
    stored as Parameters<typeof deserializeStoredGeneration>[0],
  );
  if (stored.generationInfo) generation.generationInfo = stored.generationInfo;
  return generation;
}
