/** An HTTP endpoint on a free loopback port that collects the alerts a webhook posts to it. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Alert } from '../../src/monitor/alerts.js';

export async function webhookReceiver(): Promise<{ url: string; received: Alert[]; close(): Promise<void> }> {
  const received: Alert[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push(JSON.parse(body) as Alert);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
