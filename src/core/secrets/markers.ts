/**
 * What a secret is replaced by: `[secret:hmac:<32 hex>]` for a value judged secret by its name,
 * `[secret:sha256:<32 hex>]` for a token recognised by its shape. Markers are never digested
 * again, so sanitizing is idempotent.
 */
import * as crypto from 'node:crypto';
import { markerDigestKey } from './digest-key.js';

/**
 * The fixed marker earlier versions wrote in place of every secret (which merged different
 * requests): no longer written, but left as it is where an old llm string holds it.
 */
const REDACTED = '[redacted]';

/** `[secret:hmac:` + 32 hex + `]`: what a secret is replaced by. */
const MARKER_HEAD = '[secret:hmac:';
/** `[secret:sha256:` + 32 hex + `]`: what a token recognised by its shape is replaced by (see shapeMarker). */
const SHAPE_MARKER_HEAD = '[secret:sha256:';
/**
 * Markers, never digested again: ours, and the fixed `[redacted]` that earlier versions wrote (so
 * an entry they exported still reads as sanitized where that is all it holds).
 */
const MARKER = /\[secret:(?:hmac|sha256):[0-9a-f]{32}\]|\[redacted\]/g;
const MARKER_EXACT = /^(?:\[secret:(?:hmac|sha256):[0-9a-f]{32}\]|\[redacted\])$/;

/** Whether `s` is exactly a marker, ours or the legacy `[redacted]` (so sanitizing again leaves it alone). */
export function isSecretMarker(s: string): boolean {
  return MARKER_EXACT.test(s);
}

/**
 * The marker of one secret: HMAC-SHA-256 under the digest key, over the value's UTF-16 code units
 * (lossless, lone surrogates included) behind a type tag (the string "1234" and the number 1234
 * are different values).
 */
export function secretMarker(value: string, kind: 'string' | 'number' = 'string'): string {
  const hex = crypto
    .createHmac('sha256', markerDigestKey())
    .update(`${kind === 'string' ? 's' : 'n'}:${value}`, 'utf16le')
    .digest('hex');
  return `${MARKER_HEAD}${hex.slice(0, 32)}]`;
}

/**
 * The marker of a token recognised by its shape (an `sk-...` key, a JWT, a PEM block, a random
 * run of 20 or more characters, a bot token in a URL path): such a value has far too much entropy
 * to be guessed from its digest, so a plain SHA-256 (under a domain tag) is as safe as the HMAC
 * and, unlike an HMAC under a per-process key, the same in every process: a base URL with an
 * account id in its path keeps its entries across restarts without STRATA_DIGEST_KEY. Values
 * recognised by their name (`password=1234`) may be short and guessable: they keep the HMAC.
 */
export function shapeMarker(value: string): string {
  const hex = crypto
    .createHash('sha256')
    .update(`strata-shaped-secret\u0000${value}`, 'utf16le')
    .digest('hex');
  return `${SHAPE_MARKER_HEAD}${hex.slice(0, 32)}]`;
}

/** A whole value in a secret position: its marker (an empty string or a marker stays as it is). */
export function digestWhole(s: string): string {
  return s === '' || MARKER_EXACT.test(s) ? s : secretMarker(s);
}

/** Applies `fn` to the parts of `s` between markers, so a marker is never digested again. */
export function outsideMarkers(s: string, fn: (piece: string) => string): string {
  if (!s.includes('[secret:') && !s.includes(REDACTED)) return fn(s);
  let out = '';
  let last = 0;
  for (const m of s.matchAll(MARKER)) {
    out += fn(s.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + fn(s.slice(last));
}
