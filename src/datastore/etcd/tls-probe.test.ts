import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { plainEndpointsServingTls } from './tls-probe.js';

const listen = (s: Server) =>
  new Promise<number>((res) => s.listen(0, '127.0.0.1', () => res((s.address() as AddressInfo).port)));

test('a plain-text listener, a closed port, https:// and unix endpoints are not reported as TLS', async () => {
  // Answers like a plain HTTP/2 server would to a ClientHello: bytes that are not TLS.
  const plain = createServer((c) => c.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  const port = await listen(plain);
  const closed = createServer();
  const closedPort = await listen(closed);
  await new Promise((res) => closed.close(res));
  try {
    const found = await plainEndpointsServingTls([
      `http://127.0.0.1:${port}`,
      `http://127.0.0.1:${closedPort}`,
      `https://127.0.0.1:${port}`,
      'unix:///run/etcd.sock',
      'not a url',
    ]);
    assert.deepEqual(found, []);
  } finally {
    plain.close();
  }
});

test('a silent listener is given up on after the timeout', { timeout: 20_000 }, async () => {
  const silent = createServer(() => undefined);
  const port = await listen(silent);
  try {
    assert.deepEqual(await plainEndpointsServingTls([`http://127.0.0.1:${port}`], 200), []);
  } finally {
    silent.close();
  }
});
