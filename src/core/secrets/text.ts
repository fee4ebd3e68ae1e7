/**
 * Free text: the stages that find secret-shaped parts of a string (PEM keys, URL user info and
 * path tokens, key query parameters, authorization schemes, API-key shapes, `name: value` pairs,
 * random-looking runs) and replace them by markers, keeping every other byte.
 */
import { digestWhole, isSecretMarker, outsideMarkers, secretMarker, shapeMarker } from './markers.js';
import { isSecretFieldName, isSecretMapName } from './names.js';

const PEM_PRIVATE_KEY =
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
/** `scheme://authority/path`: the path is looked at for tokens (the query has its own stage). */
const URL_PATH = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#\s"'<>\\]*)(\/[^?#\s"'<>\\]*)/gi;
/** `scheme://user:password@host` */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#\s]*)@/gi;
/** `?key=...&sig=...` in a URL or a query string, `;password=...` in a connection string. */
const QUERY_PARAM = /([?&;])([^=&#\s"?]+)=([^&#\s"?]*)/g;
/** `Bearer x`, whatever x (any case). */
const BEARER = /\b(Bearer)(\s+)[A-Za-z0-9._~+/=:-]+/gi;
/**
 * The other authorization schemes, only before something credential-shaped (8+ characters with a
 * digit, both cases twice, or base64 padding), so that "Basic understanding" stays prose.
 */
const OTHER_SCHEME =
  /\b(Basic|Token|Digest)(\s+)(?=[A-Za-z._~+/=:-]*\d|(?:[^\sA-Z]*[A-Z]){2}(?:[^\sa-z]*[a-z]){2}|[A-Za-z0-9._~+/:-]+=)[A-Za-z0-9._~+/=:-]{8,}/g;
/** Strings shaped like API keys, wherever they appear. */
const TOKEN_SHAPES: RegExp[] = [
  /\b(sk|rk|pk)[-_](live_|test_|proj-|ant-|or-)?[A-Za-z0-9_-]{16,}/g,
  /\b(AKIA|ASIA)[A-Z0-9]{12,}/g,
  /\b(xox[abprs]-|ghp_|gho_|ghs_|ghu_|github_pat_|glpat-|hf_|AIza|ya29\.)[A-Za-z0-9_.-]{10,}/g,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
];
/** `name=value`, `name: value`, `"name":"value"` inside free text (connection strings, header lines, a preamble). */
const INLINE_PAIR =
  /(["']?)(\p{L}[\p{L}\p{N}_.-]{0,80})\1(\s*[:=](?!\/\/)\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&"'}\])]+)/gu;
/** A run of token characters: what a random-looking credential is made of. */
const TOKEN_RUN = /[A-Za-z0-9_\-+~]{20,}={0,2}/g;
/**
 * A digest named by its algorithm (`sha256:<hex>`, as Strata's own `_strata_identity` pair and
 * content-addressed URLs carry): random-looking, but a digest, not a credential.
 */
const NAMED_DIGEST = /(?:sha(?:1|224|256|384|512)|md5|blake2[bs]?|xxh(?:64|128)?):$/i;

/**
 * Whether a run of token characters looks random (a key, not a word or a version): at least 20
 * letters and digits, both present, and changing often between upper case, lower case and digits
 * (random base-62 changes at about 60% of its characters, hex at about 47%; `claude-3-5-sonnet-20241022`
 * at 14%).
 */
function looksRandom(run: string): boolean {
  const alnum = run.replace(/[^A-Za-z0-9]/g, '');
  if (alnum.length < 20 || !/[0-9]/.test(alnum) || !/[A-Za-z]/.test(alnum)) return false;
  const kind = (c: string) => (c >= '0' && c <= '9' ? 0 : c >= 'a' && c <= 'z' ? 1 : 2);
  let changes = 0;
  for (let i = 1; i < alnum.length; i++) if (kind(alnum[i]!) !== kind(alnum[i - 1]!)) changes++;
  return changes / (alnum.length - 1) >= 0.25;
}

const HOOK_SEGMENTS = new Set(['hooks', 'hook', 'webhooks', 'webhook']);

/**
 * Tokens in a URL path: Slack-style `/services/T.../B.../<token>`, Telegram's `/bot<id>:<token>`,
 * whatever follows a `/hooks/` or `/webhooks/` segment (with a digit, or 12+ characters), and the
 * segment after one named like a secret (`/key/<key>/`, `/token/<token>`). Random-looking
 * segments are caught by the token-run stage.
 */
function scrubUrlPath(path: string): string {
  const segments = path.split('/');
  const out = [...segments];
  let afterHook = false;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '' || isSecretMarker(seg)) continue;
    const bot = /^bot(\d{3,}:[A-Za-z0-9_-]{10,})$/.exec(seg);
    if (bot) out[i] = `bot${shapeMarker(bot[1]!)}`;
    else if (afterHook && (/\d/.test(seg) || seg.length >= 12)) out[i] = secretMarker(seg);
    if (
      seg === 'services' &&
      /^T[A-Z0-9]+$/.test(segments[i + 1] ?? '') &&
      /^B[A-Z0-9]+$/.test(segments[i + 2] ?? '') &&
      (segments[i + 3] ?? '') !== ''
    ) {
      out[i + 3] = shapeMarker(segments[i + 3]!);
    }
    if (HOOK_SEGMENTS.has(seg.toLowerCase())) afterHook = true;
    const next = segments[i + 1];
    if (next && isSecretFieldName(safeDecode(seg))) out[i + 1] = secretMarker(next);
  }
  return out.join('/');
}

/** The stages of free-text scrubbing, in order; each sees only the text between markers. */
const STRING_STAGES: Array<(s: string) => string> = [
  (s) => s.replace(PEM_PRIVATE_KEY, (block) => shapeMarker(block)),
  (s) =>
    s.replace(
      URL_PATH,
      (_, scheme: string, authority: string, path: string) => `${scheme}${authority}${scrubUrlPath(path)}`,
    ),
  (s) =>
    s.replace(URL_USERINFO, (_, scheme: string, userinfo: string) => `${scheme}${digestWhole(userinfo)}@`),
  (s) =>
    s.replace(QUERY_PARAM, (param, sep: string, name: string, value: string) =>
      value !== '' && isSecretMapName(safeDecode(name)) ? `${sep}${name}=${secretMarker(value)}` : param,
    ),
  ...[BEARER, OTHER_SCHEME].map(
    (scheme) => (s: string) =>
      s.replace(
        scheme,
        (match, word: string, space: string) =>
          `${word}${space}${secretMarker(match.slice(word.length + space.length))}`,
      ),
  ),
  ...TOKEN_SHAPES.map((shape) => (s: string) => s.replace(shape, (token) => shapeMarker(token))),
  (s) =>
    s.replace(INLINE_PAIR, (pair, quote: string, name: string, sep: string, value: string) => {
      if (!isSecretMapName(name)) return pair;
      // A header line keeps its scheme word (`Authorization: Bearer [secret:...]`).
      if (/^(bearer|basic|token|digest)$/i.test(value)) return pair;
      const inner = /^(["']).*\1$/s.test(value) ? value.slice(1, -1) : value;
      if (inner === '') return pair;
      const marker = secretMarker(inner);
      return `${quote}${name}${quote}${sep}${inner === value ? marker : `${value[0]}${marker}${value[0]}`}`;
    }),
  (s) =>
    s.replace(TOKEN_RUN, (run, at: number) =>
      !looksRandom(run) || (/^[0-9a-f]+$/i.test(run) && NAMED_DIGEST.test(s.slice(Math.max(0, at - 8), at)))
        ? run
        : shapeMarker(run),
    ),
];

/**
 * `s` with the stages applied between markers; the JSON forms of a string are scrubString's
 * (`values.ts`). `randomRuns: false` skips the random-looking-run stage.
 */
export function scrubText(s: string, randomRuns: boolean): string {
  const stages = randomRuns ? STRING_STAGES : STRING_STAGES.slice(0, -1);
  // Until nothing changes: a later stage's marker can cut a match of an earlier one short
  // (`<random run>pin=1234` is one name to the pair stage, `pin=1234` once the run is digested),
  // so one pass could leave a secret that the next pass finds. Every changing pass digests more
  // of the text; the result is one that sanitizing again leaves as it is.
  let out = s;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    let next = out;
    for (const stage of stages) next = outsideMarkers(next, stage);
    if (next === out) return out;
    out = next;
  }
  return secretMarker(s);
}

/** Passes of scrubText before it gives up and digests the whole string (never reached in practice). */
const MAX_PASSES = 8;

/** `decodeURIComponent`, or `s` itself where it is not valid percent-encoding. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
