/**
 * Values of any shape: strings (with JSON inside them), client configuration, request bodies and
 * header or query maps. One module because they recurse into each other: a string may hold JSON
 * whose fields hold strings.
 */
import { isMapField, MODEL_FIELDS, REQUEST_FIELDS } from './fields.js';
import { isJsonSchema } from './json-schema.js';
import { digestWhole, isSecretMarker, outsideMarkers, secretMarker } from './markers.js';
import { isSecretFieldName, isSecretMapName } from './names.js';
import { isPlainObject, newRecord } from './records.js';
import { safeDecode, scrubText } from './text.js';

/**
 * A string with every secret-shaped part replaced by its marker; everything else stays byte for
 * byte. A string that is JSON (or percent-encoded JSON) is sanitized as a structure.
 * `randomRuns: false` skips the random-looking-run stage (for model names: `Mixtral-8x7B-Instruct`).
 */
export function scrubString(s: string, randomRuns = true): string {
  if (s.length === 0 || isSecretMarker(s)) return s;
  const nested = scrubJsonText(s) ?? scrubEncodedJson(s);
  if (nested !== undefined) return nested;
  return scrubText(s, randomRuns);
}

/**
 * JSON carried percent-encoded (`%7B%22password%22...`), as in a header value or a query string.
 * Markers stay unencoded, so sanitizing the result again finds them. When the original encoding
 * is not the canonical one, re-encoding would lose how two such strings differ: the whole string
 * is digested instead.
 */
function scrubEncodedJson(s: string): string | undefined {
  if (!/^\s*%(7B|5B)/i.test(s)) return undefined;
  const decoded = safeDecode(s);
  if (decoded === s) return undefined;
  const clean = scrubJsonText(decoded);
  if (clean === undefined) return undefined;
  if (clean === decoded) return s;
  if (encodeURIComponent(decoded) !== s) return secretMarker(s);
  return outsideMarkers(clean, encodeURIComponent);
}

/**
 * A string that is itself JSON (a header value carrying a JSON blob, a serialized config):
 * sanitized as a structure. Unchanged structures keep their original text, so formatting never
 * merges or splits keys that carry no secret; a changed one written in other than JSON.stringify's
 * form is digested whole (re-serializing it would merge two texts that differ in form only).
 */
function scrubJsonText(s: string): string | undefined {
  const first = s.trimStart()[0];
  if (first !== '{' && first !== '[') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch {
    return undefined;
  }
  const clean = scrubValue(parsed);
  const canonical = JSON.stringify(parsed);
  const cleanText = JSON.stringify(clean);
  if (cleanText === canonical) return s;
  return canonical === s ? cleanText : secretMarker(s);
}

/**
 * Client configuration: schemas kept, request fields kept, header/query maps judged by name,
 * values under secret names digested whole (`secret`), every other string scrubbed.
 */
export function scrubValue(value: unknown, secret = false): unknown {
  if (typeof value === 'string') return secret ? digestWhole(value) : scrubString(value);
  if (typeof value === 'number') return secret ? secretMarker(String(value), 'number') : value;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, secret));
  if (!isPlainObject(value)) return value;
  if (isJsonSchema(value)) return value;
  const out = newRecord();
  for (const [name, inner] of Object.entries(value))
    out[name] = secret ? scrubValue(inner, true) : scrubField(name, inner);
  return out;
}
export function scrubField(name: string, value: unknown): unknown {
  if (REQUEST_FIELDS.has(name)) return keepRequest(value);
  if (MODEL_FIELDS.has(name) && typeof value === 'string') return scrubString(value, false);
  if (isMapField(name)) return scrubMapLike(value);
  return scrubValue(value, isSecretFieldName(name));
}

/**
 * A request body as a gateway may key and store it: the request itself verbatim (the
 * `REQUEST_FIELDS`, JSON Schemas), MCP server definitions among the tools and every field named
 * like a credential digested wherever it sits (the Responses MCP tool's `authorization` and
 * `headers`, Anthropic's `mcp_servers[].authorization_token`, a body's `api_key` or
 * `extra_headers`), other strings scrubbed of secret shapes. Nothing is dropped, so two requests
 * that differ in a token still differ.
 */
export function scrubRequestBody(body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out = newRecord();
  for (const [name, value] of Object.entries(body)) out[name] = scrubField(name, value);
  return out;
}

/** A request field, verbatim but for MCP server definitions among the tools (client configuration). */
function keepRequest(value: unknown): unknown {
  if (Array.isArray(value)) {
    const out = value.map(keepRequest);
    return out.some((v, i) => v !== value[i]) ? out : value;
  }
  if (!isPlainObject(value) || isJsonSchema(value)) return value;
  if (value.type === 'mcp') {
    // Every header an MCP server is given is client configuration, whatever its name (`X-Tenant`).
    const out = scrubValue(value) as Record<string, unknown>;
    if (value.headers !== undefined) out.headers = scrubValue(value.headers, true);
    return out;
  }
  let out: Record<string, unknown> | undefined;
  for (const [name, inner] of Object.entries(value)) {
    const kept = keepRequest(inner);
    if (kept !== inner) out = { ...(out ?? value), [name]: kept };
  }
  return out ?? value;
}

/**
 * A header or query map as clients accept it: an object, or a list of `[name, value]` pairs.
 * Values under credential-like names are digested; names in `leftOut` (lower-case; the provider's
 * own auth headers where the map is a provider client's) are left out.
 */
export function scrubMapLike(value: unknown, leftOut?: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const pair of value) {
      if (Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string') {
        if (leftOut?.has(pair[0].toLowerCase())) continue;
        out.push([pair[0], scrubValue(pair[1], isSecretMapName(pair[0]))]);
      } else out.push(scrubValue(pair));
    }
    return out;
  }
  if (isPlainObject(value)) {
    const out = newRecord();
    for (const [name, inner] of Object.entries(value)) {
      if (!leftOut?.has(name.toLowerCase())) out[name] = scrubValue(inner, isSecretMapName(name));
    }
    return out;
  }
  return scrubValue(value);
}
