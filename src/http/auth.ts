/**
 * Token auth for the servers Strata runs (the monitor's and the gateway's): bearer tokens, and
 * comparing secrets without leaking them through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The credential of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 9110). */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^bearer +(\S.*)$/i.exec(header ?? '');
  return match?.[1]?.trimEnd();
}

/** Constant-time equality that does not leak the length either (both sides hashed first). */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Whether an `Authorization` header carries one of `tokens` as its bearer token; with no tokens,
 * every request passes (the server then listens on loopback only).
 */
export function tokenAuth(tokens: readonly string[]): (authorization: string | undefined) => boolean {
  return (authorization) => {
    if (tokens.length === 0) return true;
    const given = bearerToken(authorization);
    if (given === undefined) return false;
    // Every token is compared, so the time taken does not say which one (or whether one) matched.
    let match = false;
    for (const t of tokens) match = sameSecret(given, t) || match;
    return match;
  };
}
