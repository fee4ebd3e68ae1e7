/** Anything thrown, as an Error (a rejected promise may carry a string, or nothing). */
export function errorOf(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
