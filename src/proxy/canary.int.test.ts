/**
 * No credential a request carries is kept anywhere: canary keys in every header, query and body
 * position, sent as JSON and as streams through a gateway on SQLite, Redis and PostgreSQL, and
 * then searched for, byte for byte, in the SQLite files (db, -wal, -shm), every Redis key and
 * value, every row of the PostgreSQL tables, the gateway's log, `/metrics` and the monitor API.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { everythingStored, startGateway, type TestGateway } from '../../test/support/gateway.js';
import { service } from '../../test/support/services.js';

const id = randomBytes(4).toString('hex');
/** One canary per position, so a finding names where it came from. */
const canary = (position: string) => `CANARY${id}${position.replace(/[^a-z0-9]/gi, '')}Zq7`;
const POSITIONS = [
  'bearer',
  'basic',
  'token-scheme',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'x-portkey-api-key',
  'x-acme-access-token',
  'cookie',
  'client-token',
  'query-key',
  'query-api-key',
  'query-access-token',
  'query-sig',
  'mcp-authorization',
  'mcp-header',
  'mcp-plain-header',
  'anthropic-mcp-token',
  'body-api-key',
] as const;
type Position = (typeof POSITIONS)[number];
const c = Object.fromEntries(POSITIONS.map((p) => [p, canary(p)])) as Record<Position, string>;
/** Every form a canary could be written in: as sent, base64 (Basic), hex (a bytea column), UTF-16. */
const forms = (value: string) => [
  value,
  Buffer.from(value).toString('base64').slice(0, 24),
  Buffer.from(value).toString('hex'),
  Buffer.from(value, 'utf16le').toString('latin1'),
];

let dir: string;
let gw: TestGateway;
let redisUrl: string;
let postgresUrl: string;
const keyPrefix = `canary${id}:`;
const tablePrefix = `canary_${id}_`;

beforeAll(async () => {
  redisUrl = service('redis').STRATA_TEST_REDIS_URL!;
  postgresUrl = service('postgres').STRATA_TEST_POSTGRES_URL!;
  dir = mkdtempSync(join(tmpdir(), 'strata-canary-'));
  gw = await startGateway({
    tiers: [
      { type: 'memory' },
      { type: 'sqlite', path: join(dir, 'cache.db') },
      { type: 'redis', url: redisUrl, keyPrefix },
      { type: 'postgres', url: postgresUrl, tablePrefix },
    ],
    proxy: { clientTokens: [c['client-token']], monitorPort: 0 },
  });
}, 240_000);

afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Headers every request carries: each credential header position at once. */
function headers(variant: number): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-strata-token': c['client-token'],
    authorization: [
      `Bearer ${c.bearer}`,
      `Basic ${Buffer.from(`alice:${c.basic}`).toString('base64')}`,
      `Token ${c['token-scheme']}`,
    ][variant % 3]!,
    'x-api-key': c['x-api-key'],
    'api-key': c['api-key'],
    'x-goog-api-key': c['x-goog-api-key'],
    'x-portkey-api-key': c['x-portkey-api-key'],
    'x-acme-access-token': c['x-acme-access-token'],
    cookie: `session=${c.cookie}`,
    'anthropic-version': '2023-06-01',
  };
}

const query = new URLSearchParams({
  key: c['query-key'],
  'api-key': c['query-api-key'],
  access_token: c['query-access-token'],
  sig: c['query-sig'],
}).toString();

async function send(path: string, body: object, variant: number): Promise<string | null> {
  const res = await fetch(`${gw.url}${path}?${query}`, {
    method: 'POST',
    headers: headers(variant),
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  return res.headers.get('x-strata-cache');
}

const BODIES: Array<[string, (stream: boolean, q: string) => object]> = [
  [
    '/v1/chat/completions',
    (stream, q) => ({
      model: 'gpt-4o-mini',
      stream,
      api_key: c['body-api-key'],
      messages: [{ role: 'user', content: q }],
    }),
  ],
  [
    '/v1/responses',
    (stream, q) => ({
      model: 'gpt-4o-mini',
      stream,
      input: q,
      tools: [
        {
          type: 'mcp',
          server_label: 'crm',
          server_url: 'https://mcp.example.com/sse',
          authorization: c['mcp-authorization'],
          headers: { 'X-Upstream-Key': c['mcp-header'], 'X-Tenant': c['mcp-plain-header'] },
          require_approval: 'never',
        },
      ],
    }),
  ],
  [
    '/v1/messages',
    (stream, q) => ({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      stream,
      messages: [{ role: 'user', content: q }],
      mcp_servers: [
        {
          type: 'url',
          url: 'https://mcp.example.com/sse',
          name: 'crm',
          authorization_token: c['anthropic-mcp-token'],
        },
      ],
    }),
  ],
];

async function redisDump(): Promise<string> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const parts: string[] = [];
    for await (const keys of client.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 500 }))
      for (const key of keys) {
        parts.push(key);
        const type = await client.type(key);
        if (type === 'string') parts.push(String(await client.get(key)));
        else if (type === 'hash') parts.push(JSON.stringify(await client.hGetAll(key)));
        else if (type === 'zset') parts.push(JSON.stringify(await client.zRange(key, 0, -1)));
        else if (type === 'set') parts.push(JSON.stringify(await client.sMembers(key)));
        else if (type === 'list') parts.push(JSON.stringify(await client.lRange(key, 0, -1)));
        else parts.push(`(${type})`);
      }
    return parts.join('\n');
  } finally {
    await client.close();
  }
}

async function postgresDump(): Promise<string> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_name LIKE $1',
      [`${tablePrefix}%`],
    );
    expect(tables.length).toBeGreaterThan(0);
    const parts: string[] = [];
    for (const { table_name } of tables) {
      const { rows } = await client.query<{ row: string }>(
        `SELECT row_to_json(t)::text AS row FROM ${pg.escapeIdentifier(table_name)} t`,
      );
      for (const { row } of rows) parts.push(row);
    }
    return parts.join('\n');
  } finally {
    await client.end();
  }
}

describe('canary keys in every position', () => {
  it('are forwarded, separate tenants, and are found nowhere Strata keeps or shows anything', async () => {
    let n = 0;
    for (const [path, body] of BODIES)
      for (const stream of [false, true])
        for (let variant = 0; variant < 3; variant++) {
          const q = `Canary question ${++n} about invoices`;
          expect(await send(path, body(stream, q), variant)).toBe('miss');
          expect(await send(path, body(false, q), variant)).toBe('hit');
        }
    // The upstream got them: the gateway keeps nothing of them, it does not drop them.
    const upstream = JSON.stringify(gw.fake.calls.at(-1));
    expect(upstream).toContain(c['anthropic-mcp-token']);
    expect(upstream).toContain(c['x-acme-access-token']);

    const monitor = gw.proxy.monitorUrl!;
    const token = { authorization: `Bearer ${c['client-token']}` };
    const shown: string[] = [];
    for (const route of ['/metrics', '/health', '/api/stats', '/api/alerts', '/api/series', '/api/panels']) {
      const res = await fetch(`${monitor}${route}`, { headers: token });
      expect(res.status, route).toBe(200);
      shown.push(await res.text());
    }
    const places: Record<string, string> = {
      'stored entries': await everythingStored(gw.proxy),
      redis: await redisDump(),
      postgres: await postgresDump(),
      log: gw.warnings.join('\n'),
      'metrics and monitor API': shown.join('\n'),
    };
    const db = join(dir, 'cache.db');
    const files = [db, `${db}-wal`, `${db}-shm`].filter((f) => existsSync(f));
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) places[f] = readFileSync(f).toString('latin1');
    expect(places.redis!.length).toBeGreaterThan(0);
    expect(places.postgres).toContain('Canary question');
    for (const [place, text] of Object.entries(places))
      for (const position of POSITIONS)
        for (const form of forms(c[position]))
          expect(text.includes(form), `${position} found in ${place}`).toBe(false);
  });
});
