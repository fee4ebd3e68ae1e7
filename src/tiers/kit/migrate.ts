/**
 * The one schema migrator of the tiers that keep tables: given the version a store is at and the
 * steps this Strata knows, it refuses a store written by a newer Strata (left untouched, coded)
 * and applies the missing steps in order, each recorded by the caller's `apply`. Locking and
 * transactions are the caller's: they differ by backend (an advisory lock, GET_LOCK, SQLite's
 * write lock).
 */
import { SchemaVersionError, type StrataError } from '../../errors.js';

export interface SchemaSteps<S> {
  /** What the store is, for messages: `table strata_migrations`, a file path. */
  where: string;
  /** The steps this Strata knows; step i brings the schema from version i to i + 1. */
  steps: readonly S[];
  /** The error for a store at a newer version than `steps` knows (default: SchemaVersionError). */
  newer?: (found: number, known: number) => StrataError;
}

/** Throws when `found` is newer than what this Strata knows. */
export function refuseNewer<S>(schema: SchemaSteps<S>, found: number): void {
  const known = schema.steps.length;
  if (found <= known) return;
  throw (
    schema.newer?.(found, known) ??
    new SchemaVersionError(
      `${schema.where}: schema version ${found} was written by a newer Strata (this one knows ${known}); left untouched`,
    )
  );
}

/** Applies the steps after `found`, synchronously (SQLite). */
export function migrateSync<S>(
  schema: SchemaSteps<S>,
  found: number,
  apply: (step: S, version: number) => void,
): void {
  refuseNewer(schema, found);
  for (let v = found; v < schema.steps.length; v++) apply(schema.steps[v]!, v + 1);
}

/** Applies the steps after `found`, one after the other (a server). */
export async function migrate<S>(
  schema: SchemaSteps<S>,
  found: number,
  apply: (step: S, version: number) => Promise<void>,
): Promise<void> {
  refuseNewer(schema, found);
  for (let v = found; v < schema.steps.length; v++) await apply(schema.steps[v]!, v + 1);
}
