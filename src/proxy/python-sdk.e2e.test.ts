/** The gateway driven by the Python OpenAI SDK from PyPI (installed by scripts/python-clients.sh). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';
import { pythonClients, runPythonScript } from '../../test/support/python.js';

let gw: TestGateway;
let python: string;

beforeAll(async () => {
  python = pythonClients();
  gw = await startGateway();
}, 320_000);
afterAll(async () => {
  await gw?.close();
});

function runPython(args: string[]): Promise<string> {
  return runPythonScript(python, 'python_client.py', [`${gw.url}/v1`, ...args]);
}

async function runClient(apiKey: string, question: string) {
  const stdout = await runPython([apiKey, question]);
  return JSON.parse(stdout) as {
    first: { cache: string; content: string };
    second: { cache: string; content: string; usage: number; stored_usage: number };
    stream: { content: string; usage: number; stored_usage: number };
    tools: string[][];
    error: { status: number; message: string };
    only_if_cached: number;
  };
}

describe('the Python OpenAI SDK', () => {
  it('gets repeats, streams and tool calls from the cache; errors and misses behave', async () => {
    const before = gw.fake.count();
    const seen = await runClient('sk-python-user-1', 'Wie spät ist es in Tokyo? 🙂');
    expect(seen.first.cache).toBe('miss');
    // Hits bill nothing; the SDK keeps the stored usage Strata reports beside it (hit-usage.ts).
    expect(seen.second).toMatchObject({ cache: 'hit', content: seen.first.content, usage: 0 });
    expect(seen.second.stored_usage).toBeGreaterThan(0);
    expect(seen.stream.content).toBe(seen.first.content);
    expect(seen.stream.usage).toBe(0);
    expect(seen.stream.stored_usage).toBe(seen.second.stored_usage);
    expect(seen.tools).toEqual([
      ['{"city":"Paris","unit":"celsius"}'],
      ['{"city":"Paris","unit":"celsius"}'],
    ]);
    expect(seen.error.status).toBe(500);
    expect(seen.only_if_cached).toBe(504);
    // One call for the chat, one for the tool call, one for the failure; everything else was cached.
    expect(gw.fake.count()).toBe(before + 3);
    const other = await runClient('sk-python-user-2', 'Wie spät ist es in Tokyo? 🙂');
    expect(other.first.cache).toBe('miss');
  });

  it('50 threads streaming one request at once make one upstream call, and each gets the whole answer', async () => {
    gw.fake.pieceDelayMs = 40;
    try {
      const before = gw.fake.count();
      const { texts } = JSON.parse(
        await runPython(['sk-python-user-3', 'Fifty threads at once', 'concurrent', '50']),
      ) as {
        texts: string[];
      };
      expect(texts).toHaveLength(50);
      expect(gw.fake.count()).toBe(before + 1);
      expect(texts[0]).toMatch(/^Answer #\d+ to: Fifty threads at once$/);
      for (const t of texts) expect(t).toBe(texts[0]);
    } finally {
      gw.fake.pieceDelayMs = 5;
    }
  });
});

describe('the Python OpenAI SDK, tenancy', () => {
  it('keys in default_headers and default_query separate callers', async () => {
    const stdout = await runPythonScript(python, 'python_tenancy.py', [
      `${gw.url}/v1`,
      'Wo ist die Rechnung?',
    ]);
    const seen = JSON.parse(stdout) as Record<string, { cache: string; content: string }>;
    expect(seen.goog_alice!.cache).toBe('miss');
    expect(seen.goog_alice_again).toEqual({ cache: 'hit', content: seen.goog_alice!.content });
    for (const name of ['goog_bob', 'query_alice', 'query_bob', 'portkey_carol']) {
      expect(seen[name]!.cache).toBe('miss');
      expect(seen[name]!.content).not.toBe(seen.goog_alice!.content);
    }
    expect(new Set(Object.values(seen).map((s) => s.content)).size).toBe(5);
  });
});
