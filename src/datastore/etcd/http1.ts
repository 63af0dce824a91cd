/**
 * A small HTTP/1.1 client on node:net: POST with keep-alive, for etcd's JSON gateway over http://
 * and unix:// endpoints (http-backend.ts). https:// endpoints keep node:https.
 *
 * Why: node:http costs a short command ~5 ms of start-up (it loads its agent, parser, incoming,
 * outgoing and server modules) and about 1 ms per request more. The CLI makes one to three
 * requests, so a `tessera get` spent more on that than on the etcd round trip.
 *
 * What it understands of an answer: the status line, headers, and a body framed by
 * Content-Length, chunked Transfer-Encoding, or the end of the connection. `Connection: close`
 * and HTTP/1.0 answers close the socket; others go back to the pool (unref'd, as node:http's
 * agent does, so an idle socket never keeps the process alive). A reused socket that the server
 * closed while idle fails before any byte of the answer: the request is sent again once on a new
 * connection.
 */
import { connect, type Socket } from 'node:net';

export interface Http1Endpoint {
  host?: string;
  port?: number;
  /** A unix socket instead of host and port. */
  socketPath?: string;
  /** The Host header, e.g. `127.0.0.1:2379` (default `localhost`). */
  hostHeader?: string;
}

export interface Http1Response {
  status: number;
  body: string;
}

/** One request in flight: its answer, and a way to give up on it (the socket is destroyed). */
export interface Http1Exchange {
  response: Promise<Http1Response>;
  destroy(): void;
}

interface Parsed {
  status: number;
  body: Buffer;
  keepAlive: boolean;
}

/**
 * Reads one answer as its bytes arrive. Body bytes move out of `pending` as soon as they are
 * framed, so a large answer in many chunks is copied once.
 */
class AnswerParser {
  private pending: Buffer = Buffer.alloc(0);
  private state: 'head' | 'fixed' | 'size' | 'data' | 'crlf' | 'trailers' | 'eof' = 'head';
  private status = 0;
  private keepAlive = true;
  private readonly parts: Buffer[] = [];
  private remaining = 0;
  received = 0;

  /** The answer once it is complete. */
  push(chunk: Buffer): Parsed | undefined {
    this.received += chunk.length;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    return this.advance();
  }

  /** The connection ended: the answer if it is complete now, else an error. */
  end(): Parsed {
    if (this.state === 'eof') return this.done();
    throw malformed(`the connection closed before the end of the answer (${this.state})`);
  }

  private done(): Parsed {
    this.state = 'head';
    return { status: this.status, body: Buffer.concat(this.parts), keepAlive: this.keepAlive };
  }

  private take(n: number): void {
    const k = Math.min(n, this.pending.length);
    if (k > 0) this.parts.push(this.pending.subarray(0, k));
    this.pending = this.pending.subarray(k);
    this.remaining -= k;
  }

  private advance(): Parsed | undefined {
    for (;;) {
      switch (this.state) {
        case 'head': {
          const end = this.pending.indexOf('\r\n\r\n');
          if (end < 0) return undefined;
          const lines = this.pending.toString('latin1', 0, end).split('\r\n');
          this.pending = this.pending.subarray(end + 4);
          const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
          if (!m) throw malformed(`not an HTTP answer: "${(lines[0] ?? '').slice(0, 60)}"`);
          this.status = Number(m[2]);
          // 1xx answers (100 Continue) come before the real one.
          if (this.status < 200) continue;
          const headers = new Map<string, string>();
          for (const line of lines.slice(1)) {
            const colon = line.indexOf(':');
            if (colon > 0)
              headers.set(
                line.slice(0, colon).trim().toLowerCase(),
                line
                  .slice(colon + 1)
                  .trim()
                  .toLowerCase(),
              );
          }
          const connection = headers.get('connection') ?? '';
          this.keepAlive = m[1] === '1' ? connection !== 'close' : connection === 'keep-alive';
          const length = headers.get('content-length');
          if ((headers.get('transfer-encoding') ?? '').includes('chunked')) this.state = 'size';
          else if (length !== undefined) {
            const n = Number(length);
            if (!Number.isInteger(n) || n < 0) throw malformed(`a bad Content-Length "${length}"`);
            this.remaining = n;
            this.state = 'fixed';
          } else {
            // No framing: the body runs to the end of the connection.
            this.keepAlive = false;
            this.state = 'eof';
          }
          continue;
        }
        case 'fixed':
          this.take(this.remaining);
          if (this.remaining > 0) return undefined;
          return this.done();
        case 'size': {
          const end = this.pending.indexOf('\r\n');
          if (end < 0) return undefined;
          const size = parseInt(this.pending.toString('latin1', 0, end).split(';')[0]!.trim(), 16);
          if (Number.isNaN(size) || size < 0) throw malformed('a bad chunk size');
          this.pending = this.pending.subarray(end + 2);
          this.remaining = size;
          this.state = size === 0 ? 'trailers' : 'data';
          continue;
        }
        case 'data':
          this.take(this.remaining);
          if (this.remaining > 0) return undefined;
          this.state = 'crlf';
          continue;
        case 'crlf':
          if (this.pending.length < 2) return undefined;
          this.pending = this.pending.subarray(2);
          this.state = 'size';
          continue;
        case 'trailers': {
          // Trailer lines (usually none), then an empty line.
          const end = this.pending.indexOf('\r\n');
          if (end < 0) return undefined;
          this.pending = this.pending.subarray(end + 2);
          if (end === 0) return this.done();
          continue;
        }
        case 'eof':
          this.take(this.pending.length);
          return undefined;
      }
    }
  }
}

function malformed(why: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`malformed HTTP answer: ${why}`), { code: 'EPROTO' });
}

/** Sockets to one endpoint, at most `maxSockets` in use at once; later requests wait their turn. */
export class Http1Client {
  private readonly idle: Socket[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly waiting: (() => void)[] = [];
  private inUse = 0;
  private closed = false;

  constructor(
    private readonly endpoint: Http1Endpoint,
    private readonly maxSockets = 4,
  ) {}

  post(path: string, payload: string, contentType = 'application/json'): Http1Exchange {
    const head =
      `POST ${path} HTTP/1.1\r\nHost: ${this.endpoint.hostHeader ?? 'localhost'}\r\n` +
      `Content-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n`;
    const request = head + payload;
    let current: Socket | undefined;
    let destroyed = false;
    let slot = false;
    const release = () => {
      if (!slot) return;
      slot = false;
      this.inUse--;
      this.waiting.shift()?.();
    };
    const response = (async () => {
      if (this.inUse >= this.maxSockets) await new Promise<void>((go) => this.waiting.push(go));
      this.inUse++;
      slot = true;
      try {
        if (destroyed) throw aborted();
        for (let attempt = 0; ; attempt++) {
          const reused = this.idle.pop();
          const socket = reused ?? this.open();
          if (reused) reused.ref();
          current = socket;
          try {
            const answer = await this.exchange(socket, request, reused !== undefined);
            if (answer.keepAlive && !this.closed && !destroyed) this.park(socket);
            else socket.destroy();
            return { status: answer.status, body: answer.body.toString('utf8') };
          } catch (err) {
            socket.destroy();
            if (destroyed) throw aborted();
            // The server closed a kept-alive socket while it was idle: once more, on a new one.
            if ((err as { staleSocket?: boolean }).staleSocket && attempt === 0) continue;
            throw err;
          }
        }
      } finally {
        release();
      }
    })();
    return {
      response,
      destroy: () => {
        destroyed = true;
        current?.destroy();
      },
    };
  }

  /** Destroys every socket; requests in flight fail. */
  close(): void {
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.idle.length = 0;
  }

  private open(): Socket {
    const e = this.endpoint;
    const socket = e.socketPath
      ? connect({ path: e.socketPath })
      : connect({ host: e.host ?? 'localhost', port: e.port ?? 80, noDelay: true });
    this.sockets.add(socket);
    // Errors during an exchange are its own listener's; one on an idle socket only drops it.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.sockets.delete(socket);
      const i = this.idle.indexOf(socket);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return socket;
  }

  /** An idle socket waits in the pool; an error or close while idle just drops it. */
  private park(socket: Socket): void {
    socket.unref();
    this.idle.push(socket);
  }

  private exchange(socket: Socket, request: string, reused: boolean): Promise<Parsed> {
    return new Promise((resolve, reject) => {
      const parser = new AnswerParser();
      const finish = (fn: () => void) => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('error', onError);
        socket.off('close', onEnd);
        fn();
      };
      const onData = (chunk: Buffer) => {
        try {
          const answer = parser.push(chunk);
          if (answer) finish(() => resolve(answer));
        } catch (err) {
          finish(() => reject(err));
        }
      };
      const onEnd = () => {
        if (reused && parser.received === 0) {
          finish(() => reject(closedEarly(true)));
          return;
        }
        try {
          const answer = parser.end();
          finish(() => resolve(answer));
        } catch (err) {
          finish(() => reject(err));
        }
      };
      const onError = (err: NodeJS.ErrnoException) => {
        const stale = reused && parser.received === 0 && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        finish(() => reject(stale ? Object.assign(err, { staleSocket: true }) : err));
      };
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('error', onError);
      socket.on('close', onEnd);
      socket.write(request);
    });
  }
}

function closedEarly(stale: boolean): NodeJS.ErrnoException {
  return Object.assign(new Error('the connection closed before an answer'), {
    code: 'ECONNRESET',
    ...(stale ? { staleSocket: true } : {}),
  });
}

function aborted(): NodeJS.ErrnoException {
  return Object.assign(new Error('the request was given up'), { code: 'ABORT_ERR' });
}
