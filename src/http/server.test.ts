import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { tokenAuth } from './auth.js';
import { listen, stop } from './server.js';

describe('src/http', () => {
  it('listens on any free port, names its URL, and lets a request under way finish within the grace', async () => {
    let release: () => void = () => {};
    const server = http.createServer((_req, res) => {
      release = () => res.end('done');
    });
    const { port, url } = await listen(server, 0, '127.0.0.1');
    expect(port).toBeGreaterThan(0);
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const answer = fetch(url).then((r) => r.text());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopped = stop(server, 1_000);
    setTimeout(() => release(), 100);
    expect(await answer).toBe('done');
    await stopped;
    expect(server.listening).toBe(false);
  });

  it('cuts a request under way once the grace is over', async () => {
    const server = http.createServer(() => {});
    const { url } = await listen(server, 0, '127.0.0.1');
    const answer = fetch(url).then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    await stop(server, 0);
    expect(await answer).toBe('cut');
  });

  it('token auth takes any listed bearer token, in any scheme case, and nothing else', () => {
    const auth = tokenAuth(['first-token-0123456789', 'second-token-0123456789']);
    expect(auth('Bearer second-token-0123456789')).toBe(true);
    expect(auth('bearer first-token-0123456789')).toBe(true);
    expect(auth('Bearer first-token')).toBe(false);
    expect(auth('Basic first-token-0123456789')).toBe(false);
    expect(auth(undefined)).toBe(false);
    expect(tokenAuth([])(undefined)).toBe(true);
  });
});
