/** Config fields, defaults and rules of this tier (its definition.ts names it). Importing this never loads the driver or its client library. */
import { z } from 'zod';
import { common, positiveInt } from '../../config/fields.js';

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port');

export const redisTierSchema = z
  .strictObject({
    type: z.literal('redis'),
    ...common,
    mode: z.enum(['standalone', 'sentinel', 'cluster']).default('standalone'),
    /** standalone: redis[s]://[user:pass@]host:port[/db] */
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .optional(),
    /** sentinel: sentinels as host:port, and the master's name. */
    sentinels: z.array(hostPort).min(1).optional(),
    sentinelName: z.string().min(1).optional(),
    /** cluster: seed nodes as host:port. */
    nodes: z.array(hostPort).min(1).optional(),
    /**
     * cluster: where to connect for each node address the cluster announces (host:port ->
     * host:port), when the nodes' own addresses cannot be reached from here: a cluster behind NAT,
     * in Docker, or behind a TCP proxy. Applies to the slot map and to MOVED/ASK redirections;
     * announced addresses not listed are used as they are.
     */
    nodeAddressMap: z.record(hostPort, hostPort).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    tls: z.boolean().default(false),
    /** Versioned key prefix; no glob characters or braces (a brace would pin keys to one Cluster slot). */
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 letters, digits or _ . : -')
      .default('strata:v1'),
    connectTimeoutMs: positiveInt.default(2_000),
    /** Carry cross-instance invalidations to other instances' memory tiers over pub/sub. */
    bus: z.boolean().default(true),
    /** An existing node-redis client, cluster or sentinel (programmatic use only); Strata does not close it. */
    client: z
      .custom<object>((v) => typeof v === 'object' && v !== null, 'must be a node-redis client object')
      .optional(),
  })
  .superRefine((t, ctx) => {
    if (t.client) return;
    const need = (field: 'url' | 'sentinels' | 'sentinelName' | 'nodes') => {
      if (t[field] === undefined)
        ctx.addIssue({ code: 'custom', path: [field], message: `required in ${t.mode} mode` });
    };
    if (t.mode === 'standalone') need('url');
    if (t.mode === 'sentinel') {
      need('sentinels');
      need('sentinelName');
    }
    if (t.mode === 'cluster') need('nodes');
    if (t.nodeAddressMap !== undefined && t.mode !== 'cluster')
      ctx.addIssue({ code: 'custom', path: ['nodeAddressMap'], message: 'only used in cluster mode' });
  });

export type RedisTierConfig = z.output<typeof redisTierSchema>;
