/**
 * Who is calling, and whose answers it may see.
 *
 * A gateway is shared by design, so the tenant is built from everything that identifies the
 * caller to the upstream or to the gateway, not from the one header an SDK happens to use: the
 * whole `Authorization` value whatever its scheme, every header on the credential list or named
 * like a credential, credential-like query parameters, and the client token. The tenant is a
 * keyed digest (HMAC under the digest key) of that set, so two callers that differ in any of it
 * never share an answer, and a weak credential (`Basic alice:pw`) cannot be recovered from a
 * namespace column by trying candidates. A request that presents no credential at all has no
 * tenant: it is not cached unless the operator chose `tenant: "shared"` (fail closed).
 *
 * Namespaces are `<root>/<tenant>`: the config's namespace, then one segment that never holds a
 * `/`, so no two (root, tenant) pairs make one namespace. A body's `cache.namespace` is not part
 * of the namespace but of the llm string (stages/key.ts), so no sub-namespace can spell another
 * tenant's.
 */
import { createHash } from 'node:crypto';
import {
  CREDENTIAL_QUERY_PARAMS,
  digestKeyGeneration,
  isSecretFieldName,
  keyedDigest,
} from '../core/secrets.js';
import { StrataConfigError } from '../errors.js';
import { bearerToken, sameSecret } from '../http/auth.js';
import type { ResolvedProxyConfig } from './config.js';

export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Headers that carry a credential or say which account pays, beyond those named like one (which
 * count too: `isSecretFieldName`): the providers' and the common gateways' own key headers.
 * Extended by the config's `credentialHeaders`.
 */
export const DEFAULT_CREDENTIAL_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'x-goog-user-project',
  'openai-organization',
  'openai-project',
  'ocp-apim-subscription-key',
  'x-portkey-api-key',
  'x-portkey-virtual-key',
  'helicone-auth',
  'cf-aig-authorization',
  'x-litellm-api-key',
  'x-amz-security-token',
  'x-strata-token',
  'cookie',
];

/** Query parameters that carry a credential beyond those named like one (Azure Functions' `code`, SAS `sig`). */
const CREDENTIAL_QUERY: ReadonlySet<string> = new Set([
  ...CREDENTIAL_QUERY_PARAMS,
  'apikey',
  'code',
  'sig',
  'signature',
  'access_token',
  'token',
  'auth',
]);

/** The three places an SDK puts its key, where a client token may arrive instead. */
function presentedKey(headers: Headers): { value: string; header: string } | undefined {
  const bearer = bearerToken(header(headers, 'authorization'));
  if (bearer) return { value: bearer, header: 'authorization' };
  for (const name of ['x-api-key', 'api-key']) {
    const value = header(headers, name);
    if (value) return { value, header: name };
  }
  return undefined;
}

const AUTH_VALUE = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)[ \t]+(\S[\s\S]*)$/;

/**
 * One credential as the tenant sees it: where it was presented (a header name, lower-case, or
 * `?` and a query parameter's name) and its value. Header values lose only the whitespace HTTP
 * does not count; in an authorization value the scheme is case-insensitive (RFC 9110 §11.1), so
 * it is lower-cased and the whitespace after it normalised (`Bearer<TAB>k` is `bearer k`).
 */
export function credentialPart(where: string, value: string): string | undefined {
  // Remembered for the credentials seen most recently: a caller sends the same ones every time.
  // Length-prefixed: a query parameter's name may hold any character, so no separator is safe.
  const id = `${where.length}:${where}${value}`;
  const known = partMemo.get(id);
  if (known !== undefined || partMemo.has(id)) return known;
  const secret = secretOf(where, value);
  const part =
    secret === undefined
      ? undefined
      : `${where}:${secret.scheme === undefined ? secret.value : `${secret.scheme} ${secret.value}`}`;
  if (partMemo.size >= 1024) partMemo.delete(partMemo.keys().next().value!);
  partMemo.set(id, part);
  return part;
}

/** credentialPart's memo: a pure function of its text, like the tenant memo below (same process, same lifetime). */
const partMemo = new Map<string, string | undefined>();

/**
 * What a credential holds: its value, and in an authorization header the scheme before it (lower
 * case). Nothing when there is no value: an empty header, a scheme alone (`Bearer`, as a client
 * with an unset key sends it), or the text an unset variable becomes (`undefined`, `null`);
 * every caller with such a "key" would otherwise share one tenant.
 */
function secretOf(where: string, raw: string): { scheme?: string; value: string } | undefined {
  const trimmed = raw.trim();
  const match = where.endsWith('authorization') ? AUTH_VALUE.exec(trimmed) : null;
  const value = match ? match[2]!.trimEnd() : trimmed;
  if (value === '' || /^(undefined|null|none|\[object object\])$/i.test(value)) return undefined;
  // Basic with an empty user and password (`Og==`, ":") presents nothing either.
  if (match && match[1]!.toLowerCase() === 'basic' && basicPair(value) === ':') return undefined;
  if (where.endsWith('authorization') && !match && AUTH_SCHEMES.has(value.toLowerCase())) return undefined;
  return match ? { scheme: match[1]!.toLowerCase(), value } : { value };
}

/** `user:password` of a Basic credential, or undefined when it is not base64 of one. */
function basicPair(value: string): string | undefined {
  if (!/^[A-Za-z0-9+/]+=*$/.test(value)) return undefined;
  const pair = Buffer.from(value, 'base64').toString('utf8');
  return pair.includes(':') ? pair : undefined;
}

const AUTH_SCHEMES: ReadonlySet<string> = new Set(['bearer', 'basic', 'token', 'digest', 'apikey', 'key']);

/** Whether a query parameter carries a credential. */
export function isCredentialQuery(name: string): boolean {
  const lower = name.toLowerCase();
  return CREDENTIAL_QUERY.has(lower) || isSecretFieldName(name);
}

/** Every credential a request presents, normalised, deduplicated and sorted. */
export function credentialsOf(
  headers: Headers,
  query: URLSearchParams,
  credentialHeaders: ReadonlySet<string>,
): string[] {
  const parts: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || !isCredentialHeader(name, credentialHeaders)) continue;
    if (Array.isArray(value)) for (const v of value) addPart(parts, name, v);
    else addPart(parts, name, value as string);
  }
  // Query names are case-sensitive to servers; only the list lookup ignores case.
  for (const [name, value] of query) if (isCredentialQuery(name)) addPart(parts, `?${name}`, value);
  return parts.length < 2 ? parts : [...new Set(parts)].sort();
}

function addPart(parts: string[], where: string, value: string): void {
  const part = credentialPart(where, value);
  if (part !== undefined) parts.push(part);
}

/** Whether a request header carries a credential: on the list, or named like one. */
export function isCredentialHeader(name: string, credentialHeaders: ReadonlySet<string>): boolean {
  return credentialHeaders.has(name) || isSecretFieldName(name);
}

/**
 * The tenant segment of a set of credentials (never empty: callers check). Remembered for the
 * callers seen most recently: an HMAC per request is a measurable share of a hit, and a caller
 * sends the same credentials every time. The memo lives in this process only and is dropped when
 * the digest key changes.
 */
function credentialTenant(parts: readonly string[]): string {
  const generation = digestKeyGeneration();
  if (generation !== tenantMemoGeneration) {
    tenantMemo.clear();
    tenantMemoGeneration = generation;
  }
  // Remembered by the one credential most callers present as it is (a part never begins with `[`,
  // so no single part is the text of a list), else by the list's text.
  const memo = parts.length === 1 ? parts[0]! : JSON.stringify(parts);
  let tenant = tenantMemo.get(memo);
  if (tenant === undefined) {
    tenant = `key:${keyedDigest('strata-gateway-tenant', JSON.stringify(parts))}`;
    if (tenantMemo.size >= 1024) tenantMemo.delete(tenantMemo.keys().next().value!);
    tenantMemo.set(memo, tenant);
  }
  return tenant;
}

const tenantMemo = new Map<string, string>();
let tenantMemoGeneration = digestKeyGeneration();

/**
 * The tags a gateway entry carries for each secret its caller presented (a keyed digest of the
 * value wherever it was sent, of a whole authorization value with its scheme, and of a Basic
 * credential's password): what `strata clear --tenant-key-env` invalidates, so a caller's entries
 * go whatever else it sent beside that key (an organization header, a client token). Every one of
 * them: a request presenting more credentials than an entry can carry tags for is not cached
 * (MAX_CREDENTIALS), so no key can be kept out of a purge by sending many others beside it.
 */
export function keyTags(parts: readonly string[]): string[] {
  const tags = new Set<string>();
  for (const part of parts) {
    const at = part.indexOf(':');
    const value = part.slice(at + 1);
    tags.add(keyTag(value));
    const space = part.slice(0, at).endsWith('authorization') ? value.indexOf(' ') : -1;
    if (space < 0) continue;
    const secret = value.slice(space + 1);
    tags.add(keyTag(secret));
    // `curl -u user:KEY`: the key is the password inside the Basic value.
    const pair = value.startsWith('basic ') ? basicPair(secret) : undefined;
    if (pair !== undefined) tags.add(keyTag(pair.slice(pair.indexOf(':') + 1)));
  }
  return [...tags];
}

/** The tags `strata clear --tenant-key-env` removes for a key given as sent (`sk-...`, `Basic ...`). */
export function tagsOfKey(key: string): string[] {
  const secret = secretOf('authorization', key) ?? secretOf('x-api-key', key);
  if (secret === undefined) throw new StrataConfigError([{ path: 'key', message: 'is empty' }]);
  return secret.scheme === undefined
    ? [keyTag(secret.value)]
    : [keyTag(`${secret.scheme} ${secret.value}`), keyTag(secret.value)];
}

function keyTag(secret: string): string {
  return `strata-key:${keyedDigest('strata-gateway-key', secret)}`;
}

/**
 * A header tenant's segment (no `/`, bounded): readable when the value is plain and the header is
 * not a credential, a digest otherwise, keyed when the header is a credential (`tenant: { header:
 * "x-api-key" }` must not write keys into the namespace column). With client tokens, the token's
 * digest is part of it: the header is the client's to set, so a token holder can name only its
 * own teams, never read another token's.
 */
function headerTenant(value: string, credential: boolean, token: string | undefined): string {
  const team = credential
    ? `team#${keyedDigest('strata-gateway-team', value)}`
    : /^[A-Za-z0-9._~-]{1,64}$/.test(value)
      ? `team:${value}`
      : `team#${createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 32)}`;
  return token === undefined ? team : `${team}~${keyedDigest('strata-gateway-client', token).slice(0, 16)}`;
}

/** Credentials one cached request may present: each makes up to three tags, and an entry holds 64. */
const MAX_CREDENTIALS = 20;

/** The longest root namespace the gateway accepts: the tenant segment must fit under the 256-character limit. */
export const MAX_ROOT_NAMESPACE = 180;

export interface Caller {
  /** The cache namespace for this caller; undefined: its requests are not cached (`why`). */
  readonly namespace: string | undefined;
  /** Why this caller's requests are not cached. */
  readonly why?: string;
  /** A keyed digest of every credential presented, to tell callers apart without holding their secrets. */
  readonly fingerprint: string;
  /** The header the client token arrived in, when it was not `x-strata-token` (it must not go upstream). */
  readonly tokenHeader?: string;
  /**
   * Every credential presented (credentialsOf), held for this request only: its entry's tags
   * (keyTags) are made from them when, and only if, it is stored.
   */
  readonly credentials: readonly string[];
}

export interface Tenancy {
  readonly config: ResolvedProxyConfig;
  /** The config's namespace: every tenant lives under it. */
  readonly root: string;
  readonly clientTokens: readonly string[];
}

/** undefined: the gateway requires a client token and this request has none that is valid. */
export function identify(tenancy: Tenancy, headers: Headers, query: URLSearchParams): Caller | undefined {
  const { config, root, clientTokens } = tenancy;
  let tokenHeader: string | undefined;
  let token: string | undefined;
  if (clientTokens.length > 0) {
    const explicit = header(headers, 'x-strata-token');
    const key = presentedKey(headers);
    token = explicit ?? key?.value;
    if (token === undefined || !clientTokens.some((t) => sameSecret(token!, t))) return undefined;
    if (explicit === undefined) tokenHeader = key?.header;
  }
  const credentialHeaders = credentialHeaderSet(config);
  const parts = credentialsOf(headers, query, credentialHeaders);
  if (parts.length > MAX_CREDENTIALS)
    return {
      namespace: undefined,
      why: `the request presents more than ${MAX_CREDENTIALS} credentials`,
      fingerprint: credentialTenant(parts),
      credentials: [],
      ...(tokenHeader ? { tokenHeader } : {}),
    };
  const fingerprint = parts.length === 0 ? 'none' : credentialTenant(parts);
  const extra = { credentials: parts, ...(tokenHeader ? { tokenHeader } : {}) };
  if (config.tenant === 'shared') return { namespace: `${root}/shared`, fingerprint, ...extra };
  if (config.tenant === 'credential') {
    if (parts.length === 0)
      return {
        namespace: undefined,
        why: 'the request presents no credential, so whose answers it may see is unknown (tenant: "shared" caches such requests)',
        fingerprint,
        ...extra,
      };
    return { namespace: `${root}/${fingerprint}`, fingerprint, ...extra };
  }
  const value = header(headers, config.tenant.header);
  if (!value || value.length > 200)
    return {
      namespace: undefined,
      why: `the request has no ${config.tenant.header} header (of 1-200 characters) to take its tenant from`,
      fingerprint,
      ...extra,
    };
  const segment = headerTenant(value, isCredentialHeader(config.tenant.header, credentialHeaders), token);
  return { namespace: `${root}/${segment}`, fingerprint, ...extra };
}

const headerSets = new WeakMap<ResolvedProxyConfig, ReadonlySet<string>>();

export function credentialHeaderSet(config: ResolvedProxyConfig): ReadonlySet<string> {
  let set = headerSets.get(config);
  if (!set) {
    set = new Set([...DEFAULT_CREDENTIAL_HEADERS, ...config.credentialHeaders]);
    headerSets.set(config, set);
  }
  return set;
}
