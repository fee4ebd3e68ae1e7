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
 * of the namespace but of the llm string (gateway.ts), so no sub-namespace can spell another
 * tenant's.
 */
import { createHash } from 'node:crypto';
import { CREDENTIAL_QUERY_PARAMS, isSecretFieldName, keyedDigest } from '../core/secrets.js';
import { bearerToken, sameSecret } from '../monitor/access.js';
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
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  const match = where.endsWith('authorization') ? AUTH_VALUE.exec(trimmed) : null;
  const normal = match ? `${match[1]!.toLowerCase()} ${match[2]!.trimEnd()}` : trimmed;
  return `${where}:${normal}`;
}

function isCredentialQuery(name: string): boolean {
  const lower = name.toLowerCase();
  return CREDENTIAL_QUERY.has(lower) || isSecretFieldName(name);
}

/** Every credential a request presents, normalised, deduplicated and sorted. */
export function credentialsOf(
  headers: Headers,
  query: URLSearchParams,
  credentialHeaders: ReadonlySet<string>,
): string[] {
  const parts = new Set<string>();
  const add = (where: string, value: string) => {
    const part = credentialPart(where, value);
    if (part !== undefined) parts.add(part);
  };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (!credentialHeaders.has(name) && !isSecretFieldName(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) add(name, v);
  }
  // Query names are case-sensitive to servers; only the list lookup ignores case.
  for (const [name, value] of query) if (isCredentialQuery(name)) add(`?${name}`, value);
  return [...parts].sort();
}

/** The tenant segment of a set of credentials (never empty: callers check). */
function credentialTenant(parts: readonly string[]): string {
  return `key:${keyedDigest('strata-gateway-tenant', JSON.stringify(parts))}`;
}

/**
 * The namespaces a caller presenting only `key` stores under, in each place the SDKs and common
 * clients send a key (`Authorization: Bearer`, `x-api-key`, `api-key`, `x-goog-api-key`, `?key=`,
 * `?api-key=`), or exactly as given when `key` is a whole authorization value (`Basic ...`):
 * what `strata clear --tenant-key-env` removes.
 */
export function keyNamespaces(root: string, key: string): string[] {
  const value = key.trim();
  if (value === '') throw new TypeError('the key is empty');
  const presented: Array<[string, string]> = AUTH_VALUE.test(value)
    ? [['authorization', value]]
    : [
        ['authorization', `Bearer ${value}`],
        ['x-api-key', value],
        ['api-key', value],
        ['x-goog-api-key', value],
        ['?key', value],
        ['?api-key', value],
      ];
  return presented.map(([where, v]) => `${root}/${credentialTenant([credentialPart(where, v)!])}`);
}

/** A header tenant's segment: readable when the value is plain, its digest otherwise (no `/`, bounded). */
function headerTenant(value: string): string {
  return /^[A-Za-z0-9._~-]{1,64}$/.test(value)
    ? `team:${value}`
    : `team#${createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 32)}`;
}

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
  if (clientTokens.length > 0) {
    const explicit = header(headers, 'x-strata-token');
    const key = presentedKey(headers);
    const given = explicit ?? key?.value;
    if (given === undefined || !clientTokens.some((t) => sameSecret(given, t))) return undefined;
    if (explicit === undefined) tokenHeader = key?.header;
  }
  const parts = credentialsOf(headers, query, credentialHeaderSet(config));
  const fingerprint = parts.length === 0 ? 'none' : credentialTenant(parts);
  const extra = tokenHeader ? { tokenHeader } : {};
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
  return { namespace: `${root}/${headerTenant(value)}`, fingerprint, ...extra };
}

const headerSets = new WeakMap<ResolvedProxyConfig, ReadonlySet<string>>();

function credentialHeaderSet(config: ResolvedProxyConfig): ReadonlySet<string> {
  let set = headerSets.get(config);
  if (!set) {
    set = new Set([...DEFAULT_CREDENTIAL_HEADERS, ...config.credentialHeaders]);
    headerSets.set(config, set);
  }
  return set;
}
