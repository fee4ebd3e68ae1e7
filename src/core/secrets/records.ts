/** Plain-object helpers shared by the structure walkers. */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * An object to copy fields into: without a prototype, so a field named `__proto__` (JSON.parse
 * makes it an own property) is copied as a field instead of replacing the prototype and vanishing.
 */
export const newRecord = (): Record<string, unknown> => Object.create(null) as Record<string, unknown>;
