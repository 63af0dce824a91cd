/**
 * The CNI fast path: a unix-socket server inside the node agent. The `tessera-cni` C shim forwards
 * one invocation per connection and prints the reply, so an ADD costs no Node start-up and no
 * datastore dial. Runs the same `handleInvocation` as the standalone executable.
 *
 * Wire format (both directions are one connection, one invocation):
 *   request:  "KEY=VALUE\0" for each CNI_* variable, then "\0", then the config bytes, then EOF
 *   reply:    "<exit code>\n" followed by exactly what the plugin prints on stdout
 */
import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Backend } from '../datastore/index.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { TesseraError } from '../lib/errors.js';
import type { CniIpam } from './deps.js';
import { handleInvocation } from './dispatch.js';
import { startIpHelper } from './ip-runner.js';

export interface CniServerOptions {
  socketPath: string;
  backend: Backend;
  /** The IPAM client (normally `new IpamClient(backend)`, kept warm for the agent's lifetime). */
  ipam: CniIpam;
  /** This node's name (used when the network config has no `nodename`). */
  nodeName: string;
  clock?: Clock;
  /** Per-invocation deadline (default 60 s). */
  timeoutMs?: number;
  /** Called once per finished invocation (logging / metrics). */
  onInvocation?: (info: { command: string; containerId: string; exitCode: number; durationMs: number }) => void;
  /**
   * Calico's `policy_setup_timeout_seconds`: when the network config sets it above 0, a successful
   * ADD is answered only once this resolves (the agent has programmed the new interface's policy)
   * or the timeout passes, so the pod can talk the moment its runtime starts it. The interface
   * stays fail-closed until then either way.
   */
  whenProgrammed?: (hostInterface: string, signal: AbortSignal) => Promise<void>;
}

/** The host-side interface of an ADD result (the one without a sandbox). */
function hostInterfaceOf(stdout: string): string | undefined {
  try {
    const r = JSON.parse(stdout) as { interfaces?: { name?: string; sandbox?: string }[] };
    return r.interfaces?.find((i) => !i.sandbox && i.name)?.name;
  } catch {
    return undefined;
  }
}

function policySetupTimeoutMs(stdin: string): number {
  try {
    const v = (JSON.parse(stdin) as { policy_setup_timeout_seconds?: unknown }).policy_setup_timeout_seconds;
    return typeof v === 'number' && v > 0 ? Math.min(v, 60) * 1000 : 0;
  } catch {
    return 0;
  }
}

export interface CniServer {
  readonly socketPath: string;
  /** Stops accepting, waits for in-flight invocations, removes the socket. */
  close(): Promise<void>;
}

export function decodeRequest(data: Buffer): { env: Record<string, string>; stdin: string } {
  const env: Record<string, string> = {};
  let pos = 0;
  for (;;) {
    const end = data.indexOf(0, pos);
    if (end < 0) throw new TesseraError('validation', 'cannot decode CNI request: environment block is not terminated');
    if (end === pos) {
      pos = end + 1;
      break;
    }
    const entry = data.subarray(pos, end).toString('utf8');
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    pos = end + 1;
  }
  return { env, stdin: data.subarray(pos).toString('utf8') };
}

export function encodeRequest(env: Record<string, string | undefined>, stdin: string): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('CNI_') && v !== undefined) parts.push(Buffer.from(`${k}=${v}\0`));
  }
  parts.push(Buffer.from([0]), Buffer.from(stdin));
  return Buffer.concat(parts);
}

export async function startCniServer(options: CniServerOptions): Promise<CniServer> {
  const clock = options.clock ?? systemClock;
  const inflight = new Set<Promise<void>>();
  // Spawning `ip` from this (large) process would fork all of it per script: see ip-runner.ts.
  const ip = startIpHelper();
  // The server is what makes the IPAM client long-lived: one txn per assign from cached blocks.
  options.ipam.enableHostCache?.();
  const serve = async (sock: Socket, data: Buffer): Promise<void> => {
    const t0 = clock.nowMs();
    const { env, stdin } = decodeRequest(data);
    const signal = AbortSignal.timeout(options.timeoutMs ?? 60_000);
    const reply = await handleInvocation('cni', env, stdin, async () => ({
      backend: options.backend,
      ipam: options.ipam,
      clock,
      nodeName: options.nodeName,
      ip,
      signal,
    }));
    const waitMs = policySetupTimeoutMs(stdin);
    if (reply.exitCode === 0 && env['CNI_COMMAND'] === 'ADD' && waitMs > 0 && options.whenProgrammed) {
      const iface = hostInterfaceOf(reply.stdout);
      // A timeout is not a failure: the pod is wired and will be programmed shortly.
      if (iface) await options.whenProgrammed(iface, AbortSignal.timeout(waitMs)).catch(() => undefined);
    }
    sock.end(`${reply.exitCode}\n${reply.stdout}`);
    options.onInvocation?.({
      command: env['CNI_COMMAND'] ?? '',
      containerId: env['CNI_CONTAINERID'] ?? '',
      exitCode: reply.exitCode,
      durationMs: clock.nowMs() - t0,
    });
  };
  // allowHalfOpen: the shim half-closes after sending; the reply goes back on the same socket.
  const server: Server = createServer({ allowHalfOpen: true }, (sock) => {
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => undefined); // the shim may die mid-request: the invocation still completes
    sock.on('end', () => {
      const p = serve(sock, Buffer.concat(chunks)).catch(() => {
        sock.destroy();
      });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    });
  });
  await unlink(options.socketPath).catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(new TesseraError('unavailable', `cannot listen on CNI socket "${options.socketPath}"`, { cause: e })),
    );
    server.listen(options.socketPath, () => resolve());
  });
  await chmod(options.socketPath, 0o600);
  return {
    socketPath: options.socketPath,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...inflight]);
      ip.close();
      await unlink(options.socketPath).catch(() => undefined);
    },
  };
}
