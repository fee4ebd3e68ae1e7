/** A gateway in front of the fake LLM API, for the proxy's tests: started and stopped per test file. */
import type { StrataConfig } from '../../src/config/schema.js';
import type { Clock } from '../../src/core/clock.js';
import { createProxy, type StrataProxy } from '../../src/proxy/index.js';
import { type FakeLlm, startFakeLlm } from './fake-llm.js';

export interface TestGateway {
  readonly url: string;
  readonly proxy: StrataProxy;
  readonly fake: FakeLlm;
  readonly warnings: string[];
  close(): Promise<void>;
}

type ProxySection = Partial<NonNullable<StrataConfig['proxy']>>;

export async function startGateway(
  o: {
    proxy?: ProxySection;
    tiers?: StrataConfig['tiers'];
    clock?: Clock;
    fake?: FakeLlm;
    config?: Partial<StrataConfig>;
  } = {},
): Promise<TestGateway> {
  const fake = o.fake ?? (await startFakeLlm());
  const warnings: string[] = [];
  const proxy = await createProxy(
    {
      tiers: o.tiers ?? [{ type: 'memory' }],
      ...o.config,
      proxy: {
        port: 0,
        upstreams: [
          { url: fake.url, api: 'openai' },
          { url: fake.url, api: 'anthropic' },
        ],
        ...o.proxy,
      },
    },
    { logger: { warn: (m) => warnings.push(m) }, ...(o.clock ? { clock: o.clock } : {}) },
  );
  const url = await proxy.listen();
  return {
    url,
    proxy,
    fake,
    warnings,
    async close() {
      await proxy.close(500);
      if (!o.fake) await fake.close();
    },
  };
}

/** Every stored payload of every tier, as one string: to look for what must never be stored. */
export async function everythingStored(proxy: StrataProxy): Promise<string> {
  const parts: string[] = [];
  for (const tier of proxy.strata.tiers)
    for await (const e of tier.entries()) parts.push(e.namespace, e.payload);
  return parts.join('\n');
}
