/**
 * Tells a plain-text endpoint that is really a TLS listener apart from one that is down. grpc-js
 * reports both as "Failed to connect"; a TLS handshake attempt (certificate not checked: this only
 * asks which protocol the port speaks) settles it.
 */
import { createRequire } from 'node:module';

// node:tls (and crypto with it) is loaded only when a probe runs: a CLI command that reaches etcd
// over plain http never needs it (~10 ms of start-up).
const connect = (options: import('node:tls').ConnectionOptions) =>
  (createRequire(import.meta.url)('node:tls') as typeof import('node:tls')).connect(options);

function answersTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      rejectUnauthorized: false,
      ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }),
    });
    const done = (yes: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(yes);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('secureConnect', () => done(true));
    // A server that wants a client certificate may abort the handshake with an alert: still TLS.
    socket.once('error', (e: NodeJS.ErrnoException) =>
      done(/alert|certificate/i.test(e.message) && !/wrong version number/i.test(e.message)),
    );
  });
}

/** The `http://` endpoints among `endpoints` that answer a TLS handshake. */
export async function plainEndpointsServingTls(endpoints: readonly string[], timeoutMs = 1500): Promise<string[]> {
  const plain = endpoints.flatMap((e) => {
    try {
      const u = new URL(e);
      return u.protocol === 'http:'
        ? [{ e, host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 2379) }]
        : [];
    } catch {
      return [];
    }
  });
  const tls = await Promise.all(plain.map((p) => answersTls(p.host, p.port, timeoutMs)));
  return plain.filter((_, i) => tls[i]).map((p) => p.e);
}
