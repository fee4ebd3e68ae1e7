/**
 * JSON numbers a JavaScript number cannot hold exactly. A request is parsed to derive its key;
 * a number with more significant digits than a double keeps (a 64-bit `seed`) would parse to a
 * neighbour, and two different requests would share a key. Such a request is not cached, and is
 * forwarded as its client wrote it.
 */

/** Every double round-trips through 15 significant decimal digits; beyond that, not always. */
export const SAFE_DIGITS = 15;

/** Whether the JSON text has a number with more than 15 significant digits (outside strings). */
export function hasImpreciseNumber(text: string): boolean {
  // 16 significant digits, split by at most one '.', include a run of 8: without one (almost
  // every request), no number can be imprecise and the scan below is skipped.
  if (!/\d{8}/.test(text)) return false;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue;
    // A number token: count the significant digits of its mantissa.
    let digits = 0;
    let leading = true;
    let j = i;
    for (; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === 0x65 || d === 0x45) break; // exponent
      if (d === 0x2d || d === 0x2b || d === 0x2e) continue;
      if (d < 0x30 || d > 0x39) break;
      if (leading && d === 0x30) continue;
      leading = false;
      digits++;
    }
    if (digits > SAFE_DIGITS) return true;
    while (j < text.length && /[0-9eE+-]/.test(text[j]!)) j++;
    i = j - 1;
  }
  return false;
}
