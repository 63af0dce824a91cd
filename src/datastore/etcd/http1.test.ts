import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { Http1Client } from './http1.js';

/** A raw TCP server on loopback; `onRequest` writes whatever bytes the test wants. */
async function rawServer(onRequest: (socket: Socket, request: string, n: number) => void): Promise<{
  server: Server;
  port: number;
  connections: () => number;
}> {
  let connections = 0;
  let n = 0;
  const server = createServer((socket) => {
    connections++;
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const head = buf.indexOf('\r\n\r\n');
        if (head < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buf.slice(0, head))?.[1] ?? 0);
        if (buf.length < head + 4 + length) return;
        const request = buf.slice(0, head + 4 + length);
        buf = buf.slice(head + 4 + length);
        onRequest(socket, request, n++);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return { server, port: address.port, connections: () => connections };
}

const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

test('Http1Client sends a POST with its body and reads a Content-Length answer; keeps the connection', async () => {
  const seen: string[] = [];
  const { server, port, connections } = await rawServer((socket, request) => {
    seen.push(request);
    const body = '{"a":"\u00e9"}';
    socket.write(
      `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    );
    socket.write(body);
  });
  const c = new Http1Client({ host: '127.0.0.1', port, hostHeader: `127.0.0.1:${port}` });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await c.post('/v3/kv/range', '{"key":"YQ=="}').response;
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { a: '\u00e9' });
    }
    assert.equal(connections(), 1, 'one kept-alive connection for three requests');
    assert.match(seen[0]!, /^POST \/v3\/kv\/range HTTP\/1\.1\r\n/);
    assert.match(seen[0]!, new RegExp(`\r\nHost: 127\\.0\\.0\\.1:${port}\r\n`));
    assert.match(seen[0]!, /\r\nContent-Length: 14\r\n\r\n\{"key":"YQ=="\}$/);
  } finally {
    c.close();
    await close(server);
  }
});

test('Http1Client reads chunked answers split anywhere, trailers included', async () => {
  const body = JSON.stringify({
    kvs: Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(50) })),
  });
  const chunked = (trailer: string) => {
    let out = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    for (let i = 0; i < body.length; i += 777) {
      const part = body.slice(i, i + 777);
      out += `${part.length.toString(16)};ext=1\r\n${part}\r\n`;
    }
    return `${out}0\r\n${trailer}\r\n`;
  };
  const { server, port } = await rawServer((socket, _request, n) => {
    // Dribble the answer out in odd-sized pieces so every boundary falls somewhere awkward.
    const bytes = Buffer.from(chunked(n % 2 ? 'X-Trailer: 1\r\n' : ''), 'latin1');
    let i = 0;
    const step = () => {
      if (i >= bytes.length) return;
      socket.write(bytes.subarray(i, i + 3 + (i % 5)));
      i += 3 + (i % 5);
      if (i % 200 < 8) setImmediate(step);
      else step();
    };
    step();
  });
  const c = new Http1Client({ host: '127.0.0.1', port });
  try {
    for (let i = 0; i < 2; i++) assert.equal((await c.post('/', '{}').response).body, body);
  } finally {
    c.close();
    await close(server);
  }
});

test('Http1Client: Connection: close and unframed bodies end the connection; a new one serves the next', async () => {
  const { server, port, connections } = await rawServer((socket, _request, n) => {
    if (n === 0) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno');
    else socket.end('HTTP/1.0 200 OK\r\n\r\nto the end');
  });
  const c = new Http1Client({ host: '127.0.0.1', port });
  try {
    assert.deepEqual(await c.post('/', '').response, { status: 404, body: 'no' });
    assert.deepEqual(await c.post('/', '').response, { status: 200, body: 'to the end' });
    assert.equal(connections(), 2);
  } finally {
    c.close();
    await close(server);
  }
});

test('Http1Client sends again on a new connection when the server closed an idle one', async () => {
  const sockets: Socket[] = [];
  const { server, port, connections } = await rawServer((socket) => {
    sockets.push(socket);
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const c = new Http1Client({ host: '127.0.0.1', port });
  try {
    assert.equal((await c.post('/', '').response).body, 'ok');
    // The server drops the idle connection (an idle timeout); the client has not noticed yet.
    sockets[0]!.destroy();
    assert.equal((await c.post('/', '').response).body, 'ok');
    assert.equal(connections(), 2);
  } finally {
    c.close();
    await close(server);
  }
});

test('Http1Client: refused connections fail with the socket error; at most maxSockets at once', async () => {
  const refused = new Http1Client({ host: '127.0.0.1', port: 1 });
  await assert.rejects(refused.post('/', '').response, (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
  refused.close();

  const held: Socket[] = [];
  const { server, port, connections } = await rawServer((socket, _request, n) => {
    // The first six are answered in pairs, so that two are in flight at once; later ones at once.
    if (n >= 6) {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n.');
      return;
    }
    held.push(socket);
    if (held.length === 2) for (const s of held.splice(0)) s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n.');
  });
  const c = new Http1Client({ host: '127.0.0.1', port }, 2);
  try {
    const answers = await Promise.all(Array.from({ length: 6 }, () => c.post('/', '').response));
    assert.equal(answers.length, 6);
    assert.equal(connections(), 2, 'six requests over two sockets');
    // A request given up on fails, and the others go on.
    const gone = c.post('/', '');
    gone.destroy();
    await assert.rejects(gone.response);
    const [a, b] = await Promise.all([c.post('/', '').response, c.post('/', '').response]);
    assert.equal(a.body + b.body, '..');
  } finally {
    c.close();
    await close(server);
  }
});
