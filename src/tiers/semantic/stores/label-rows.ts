/**
 * Labels as the stores keep them (bound/labels.ts): both stores write and check them the same
 * way. A store only writes a label it would read back, and reads back only a row that is a label:
 * a damaged or crafted file or table never feeds the learner garbage, and never throws.
 */
import { fromColumn, toColumn } from '../../kit/postgres-sql.js';
import { LABEL_SOURCES, type Label, type LabelSource, type LoggedLabel } from '../bound/labels.js';

/** A label's text columns as stored: escaped, so U+0000 and lone surrogates stay exact (and two scopes never meet). */
export function labelColumns(label: Label): { scope: string; namespace: string; entry: string } {
  return { scope: toColumn(label.scope), namespace: toColumn(label.namespace), entry: toColumn(label.entry) };
}

/** Whether the label can be kept: a similarity in [-1, 1], a known source, an integer time. */
export function storable(label: Label): boolean {
  return (
    typeof label.scope === 'string' &&
    typeof label.namespace === 'string' &&
    typeof label.entry === 'string' &&
    validSimilarity(label.similarity) &&
    typeof label.wrong === 'boolean' &&
    validSource(label.source) &&
    Number.isSafeInteger(label.at) &&
    (label.proof === undefined || typeof label.proof === 'string')
  );
}

/** A row as a store read it (numbers already numbers, `wrong` a boolean), or undefined when it is not a label. */
export function rowLabel(row: {
  id: unknown;
  scope: unknown;
  namespace: unknown;
  entry: unknown;
  similarity: unknown;
  wrong: unknown;
  source: unknown;
  at: unknown;
  proof: unknown;
}): LoggedLabel | undefined {
  const { id, scope, namespace, entry, similarity, wrong, source, at, proof } = row;
  if (
    !Number.isSafeInteger(id) ||
    typeof scope !== 'string' ||
    typeof namespace !== 'string' ||
    typeof entry !== 'string' ||
    !validSimilarity(similarity) ||
    typeof wrong !== 'boolean' ||
    !validSource(source) ||
    !Number.isSafeInteger(at) ||
    (proof !== null && proof !== undefined && typeof proof !== 'string')
  )
    return undefined;
  return {
    id: id as number,
    scope: fromColumn(scope),
    namespace: fromColumn(namespace),
    entry: fromColumn(entry),
    similarity,
    wrong,
    source,
    at: at as number,
    ...(typeof proof === 'string' ? { proof } : {}),
  };
}

function validSimilarity(similarity: unknown): similarity is number {
  return typeof similarity === 'number' && Number.isFinite(similarity) && similarity >= -1 && similarity <= 1;
}

function validSource(source: unknown): source is LabelSource {
  return typeof source === 'string' && (LABEL_SOURCES as readonly string[]).includes(source);
}
