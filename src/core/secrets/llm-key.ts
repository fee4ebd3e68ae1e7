/**
 * LangChain's llmKey as a whole: its `name:JSON` pairs parsed, each top-level field sanitized by
 * its role (provider credentials and non-request options left out, client configuration stripped
 * of its auth), and what cannot be parsed replaced by its digest.
 */
import * as crypto from 'node:crypto';
import {
  CLIENT_CONFIG_FIELDS,
  CREDENTIAL_FIELDS,
  CREDENTIAL_HEADER_MAPS,
  CREDENTIAL_HEADERS,
  CREDENTIAL_QUERY_MAPS,
  CREDENTIAL_QUERY_PARAMS,
  NOT_REQUEST_OPTIONS,
} from './fields.js';
import { isPlainObject, newRecord } from './records.js';
import { scrubField, scrubMapLike, scrubString, scrubValue } from './values.js';

export interface SanitizedLlmKey {
  /** What tiers may store and index. */
  readonly clean: string;
  /** Set when the llmKey could not be parsed and `clean` is its digest instead. */
  readonly problem?: string;
}

/** A provider client's configuration object: its credential fields and auth headers left out. */
function scrubClientConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out = newRecord();
  for (const [name, inner] of Object.entries(config)) {
    if (CREDENTIAL_FIELDS.has(name) || inner === undefined) continue;
    if (CREDENTIAL_HEADER_MAPS.has(name)) out[name] = scrubMapLike(inner, CREDENTIAL_HEADERS);
    else if (CREDENTIAL_QUERY_MAPS.has(name)) out[name] = scrubMapLike(inner, CREDENTIAL_QUERY_PARAMS);
    else out[name] = scrubField(name, inner);
  }
  return out;
}

const LEFT_OUT = Symbol('left out');

/** One top-level field of a model's serialized parameters (a `name:JSON` pair, or a key of JSON). */
function scrubTopLevel(name: string, value: unknown): unknown {
  if (value === undefined || NOT_REQUEST_OPTIONS.has(name) || CREDENTIAL_FIELDS.has(name)) return LEFT_OUT;
  if (CLIENT_CONFIG_FIELDS.has(name) && isPlainObject(value)) return scrubClientConfig(value);
  if (CREDENTIAL_HEADER_MAPS.has(name)) return scrubMapLike(value, CREDENTIAL_HEADERS);
  if (CREDENTIAL_QUERY_MAPS.has(name)) return scrubMapLike(value, CREDENTIAL_QUERY_PARAMS);
  return scrubField(name, value);
}

/** A bare model name (`gpt-4o-mini`, `llm`): no structure that could hide a field. */
const BARE_NAME = /^[\w.@/+-]{1,200}$/;

export function sanitizeLlmKeyText(llmKey: string): SanitizedLlmKey {
  const pairs = parseLangChainKey(llmKey);
  if (pairs) {
    const kept: string[] = [];
    for (const [name, value] of pairs) {
      const clean = scrubTopLevel(name, value);
      if (clean !== LEFT_OUT) kept.push(`${name}:${JSON.stringify(clean)}`);
    }
    return { clean: kept.join(',') };
  }
  const first = llmKey.trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      const parsed: unknown = JSON.parse(llmKey);
      if (!isPlainObject(parsed)) return { clean: JSON.stringify(scrubValue(parsed)) };
      const out = newRecord();
      for (const [name, value] of Object.entries(parsed)) {
        const clean = scrubTopLevel(name, value);
        if (clean !== LEFT_OUT) out[name] = clean;
      }
      return { clean: JSON.stringify(out) };
    } catch {
      // not JSON either: falls through to the digest
    }
  }
  if (BARE_NAME.test(llmKey) && scrubString(llmKey) === llmKey) return { clean: llmKey };
  return {
    clean: `unparsed-llm-key:sha256:${crypto.createHash('sha256').update(llmKey, 'utf16le').digest('hex')}`,
    problem:
      "the llmKey is neither LangChain's `name:JSON` list, JSON, nor a bare model name; only its digest is stored",
  };
}

/** `name:` at the start of a pair: anything up to the colon but a separator or a quote. */
const NAME_AT = /[^:,"{}[\]\s][^:,"{}[\]]*:/y;

/** LangChain's `name:JSON` list; `undefined` values are kept as undefined. Any other shape: undefined. */
export function parseLangChainKey(llmKey: string): Array<[string, unknown]> | undefined {
  const pairs: Array<[string, unknown]> = [];
  let pos = 0;
  while (pos < llmKey.length) {
    NAME_AT.lastIndex = pos;
    const m = NAME_AT.exec(llmKey);
    if (!m) return undefined;
    const name = m[0].slice(0, -1);
    const start = pos + m[0].length;
    let end: number;
    let value: unknown;
    if (llmKey.startsWith('undefined', start)) {
      end = start + 'undefined'.length;
      value = undefined;
    } else {
      end = jsonValueEnd(llmKey, start);
      if (end < 0) return undefined;
      try {
        value = JSON.parse(llmKey.slice(start, end));
      } catch {
        return undefined;
      }
    }
    pairs.push([name, value]);
    if (end === llmKey.length) return pairs;
    if (llmKey[end] !== ',') return undefined;
    pos = end + 1;
  }
  return undefined;
}

/** Index just past the JSON value starting at `start`, or -1. Only tracks strings and nesting; JSON.parse validates. */
function jsonValueEnd(s: string, start: number): number {
  let depth = 0;
  let i = start;
  for (; i < s.length; i++) {
    const c = s[i];
    if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
      if (i >= s.length) return -1;
      if (depth === 0) return i + 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth < 0) return -1;
      if (depth === 0) return i + 1;
    } else if (c === ',' && depth === 0) return i === start ? -1 : i;
  }
  return depth === 0 && i > start ? i : -1;
}
