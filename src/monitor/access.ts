/**
 * Who may reach a server Strata runs (the monitor's and the gateway's): loopback and wildcard
 * addresses, bearer tokens, and comparing secrets without leaking them through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Addresses that listen on every interface. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

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
