/**
 * Who is calling, and whose answers it may see. By default the namespace is a digest of the
 * caller's credential, so two API keys never share an entry; the credential itself is never
 * stored, logged or put in a metric, only a SHA-256 of it under a fixed domain tag.
 */
import { createHash } from 'node:crypto';
import { bearerToken, sameSecret } from '../monitor/access.js';
import type { ResolvedProxyConfig } from './config.js';

export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The credential a client sent the way its SDK sends it: OpenAI's bearer token, Anthropic's or Azure's key header. */
export function credentialOf(headers: Headers): { value: string; header: string } | undefined {
  const bearer = bearerToken(header(headers, 'authorization'));
  if (bearer) return { value: bearer, header: 'authorization' };
  for (const name of ['x-api-key', 'api-key']) {
    const value = header(headers, name);
    if (value) return { value, header: name };
  }
  return undefined;
}

export interface Caller {
  /** The cache namespace for this caller; undefined: do not cache its requests (no tenant header). */
  readonly tenant: string | undefined;
  /** A digest of the credential, to tell callers apart without holding their secret. */
  readonly fingerprint: string;
  /** The header the client token arrived in, when it was not `x-strata-token` (it must not go upstream). */
  readonly tokenHeader?: string;
}

/** undefined: the gateway requires a client token and this request has none that is valid. */
export function identify(
  config: ResolvedProxyConfig,
  tokens: readonly string[],
  headers: Headers,
): Caller | undefined {
  const credential = credentialOf(headers);
  let tokenHeader: string | undefined;
  let identity = credential?.value;
  if (tokens.length > 0) {
    const explicit = header(headers, 'x-strata-token');
    const given = explicit ?? credential?.value;
    if (given === undefined || !tokens.some((t) => sameSecret(given, t))) return undefined;
    if (explicit === undefined) {
      tokenHeader = credential?.header;
      identity = given;
    }
  }
  const fingerprint = identity === undefined ? 'anonymous' : digest(identity);
  const tenant =
    config.tenant === 'shared'
      ? 'shared'
      : config.tenant === 'credential'
        ? identity === undefined
          ? 'anonymous'
          : `key-${fingerprint}`
        : tenantHeader(headers, config.tenant.header);
  return { tenant, fingerprint, ...(tokenHeader ? { tokenHeader } : {}) };
}

function tenantHeader(headers: Headers, name: string): string | undefined {
  const value = header(headers, name);
  return value && value.length <= 200 ? `h-${value}` : undefined;
}

function digest(secret: string): string {
  return createHash('sha256').update(`strata-proxy-tenant\u0000${secret}`, 'utf8').digest('hex').slice(0, 32);
}
