/**
 * Launches real etcd (Debian's `etcd` 3.4 binary) for tests, benchmarks and the lab: one member or
 * a three-member cluster, temp data dirs, free loopback ports, optional unix-socket client
 * listener and optional network namespace.
 *
 * DESIGN
 * - Every etcd is started under `setpriv --pdeathsig SIGKILL` so it dies with the process that
 *   started it even when that process is SIGKILLed; an `exit` hook also kills what is still
 *   running. Reviewers: no etcd may outlive the test run.
 * - stderr is drained continuously (a full pipe would block etcd) and its tail is kept for error
 *   messages.
 * - Readiness = etcd logged "serving client traffic" for every client listener and (outside a netns) `/health` is
 *   true. `restart()` reuses the same ports and data dir, so clients can reconnect to the same
 *   endpoints.
 * - grpc-js (used by the `etcd3` client) dials `unix:///abs/path` endpoints itself, so lab host
 *   namespaces can reach etcd through the unix listener. `forwardTcpToUnix` (socat) is the fallback
 *   for clients that only speak TCP (e.g. `etcdctl` inside a namespace).
 */
import { labTimeoutMs } from './vm/timeouts.js';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TesseraError } from '../lib/errors.js';
import { start } from '../lib/exec.js';
import { sleep } from '../lib/clock.js';

export interface EtcdTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface StartEtcdOptions {
  /** Member name (default `tessera-etcd`). */
  name?: string | undefined;
  /** Existing data dir to use; by default a fresh temp dir is created. */
  dataDir?: string | undefined;
  /** Keep the data dir on stop() (a data dir passed in `dataDir` is always kept). */
  keepDataDir?: boolean | undefined;
  /**
   * Also serve clients on a unix socket. etcd only accepts `unix://<host>:<port>` listeners and
   * creates the socket relative to its working directory, so the socket is
   * `<dir>/etcd.sock:<clientPort>`; `true` = a fresh temp dir, a string = that (existing) dir.
   */
  unixSocket?: boolean | string | undefined;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string | undefined;
  /** Address to listen on (default 127.0.0.1). */
  listenAddress?: string | undefined;
  clientPort?: number | undefined;
  peerPort?: number | undefined;
  /** Serve clients over TLS and require client certificates signed by `caFile`. */
  tls?: EtcdTlsFiles | undefined;
  /** Extra etcd flags. Defaults raise `--max-txn-ops` to 10000 and `--max-request-bytes` to 16 MiB. */
  extraArgs?: string[] | undefined;
  startTimeoutMs?: number | undefined;
}

export interface EtcdHandle {
  /** Client URLs (`http://127.0.0.1:<port>` or `https://...`). */
  endpoints: string[];
  /** `unix:///path` endpoints when a unix listener was requested. */
  unixEndpoints?: string[] | undefined;
  dataDir: string;
  readonly pid: number;
  clientPort: number;
  peerPort: number;
  /** SIGTERM, wait for exit, remove the data dir unless kept. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit (data dir kept, for restart()). */
  kill(): Promise<void>;
  /** Stop (if running) and start again on the same ports and data dir. */
  restart(): Promise<void>;
}

interface MemberSpec {
  name: string;
  dataDir: string;
  ownsDataDir: boolean;
  keepDataDir: boolean;
  clientPort: number;
  peerPort: number;
  host: string;
  unixDir?: string | undefined;
  ownsUnixDir: boolean;
  unixPath?: string | undefined;
  netns?: string | undefined;
  tls?: EtcdTlsFiles | undefined;
  initialCluster: string;
  clusterToken: string;
  extraArgs: string[];
  startTimeoutMs: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** A TCP port that was free a moment ago on `host` (bind to 0, read, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function clientScheme(spec: MemberSpec): string {
  return spec.tls ? 'https' : 'http';
}

function memberArgv(spec: MemberSpec, state: 'new' | 'existing'): string[] {
  const scheme = clientScheme(spec);
  const clientUrl = `${scheme}://${spec.host}:${spec.clientPort}`;
  const listen = [clientUrl];
  // etcd wants `unix://host:port` and binds the file `host:port` in its cwd (= spec.unixDir).
  if (spec.unixPath) listen.push(`${spec.tls ? 'unixs' : 'unix'}://etcd.sock:${spec.clientPort}`);
  const argv = [
    'setpriv',
    '--pdeathsig',
    'SIGKILL',
    '--',
    'etcd',
    '--name',
    spec.name,
    '--data-dir',
    spec.dataDir,
    '--listen-client-urls',
    listen.join(','),
    '--advertise-client-urls',
    clientUrl,
    '--listen-peer-urls',
    `http://${spec.host}:${spec.peerPort}`,
    '--initial-advertise-peer-urls',
    `http://${spec.host}:${spec.peerPort}`,
    '--initial-cluster',
    spec.initialCluster,
    '--initial-cluster-token',
    spec.clusterToken,
    '--initial-cluster-state',
    state,
    '--logger',
    'zap',
    '--log-outputs',
    'stderr',
    '--max-txn-ops',
    '10000',
    '--max-request-bytes',
    String(16 * 1024 * 1024),
  ];
  if (spec.tls) {
    argv.push(
      '--cert-file',
      spec.tls.certFile,
      '--key-file',
      spec.tls.keyFile,
      '--trusted-ca-file',
      spec.tls.caFile,
      '--client-cert-auth',
    );
  }
  argv.push(...spec.extraArgs);
  return argv;
}

class Member {
  child: ChildProcess | undefined;
  private stderrTail: string[] = [];
  private readyWaiters: Array<() => void> = [];
  private ready = false;

  constructor(readonly spec: MemberSpec) {}

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  launch(): void {
    installExitHook();
    this.ready = false;
    this.stderrTail = [];
    const child = start(memberArgv(this.spec, 'new'), {
      stdio: ['ignore', 'ignore', 'pipe'],
      netns: this.spec.netns,
      cwd: this.spec.unixDir,
    });
    this.child = child;
    live.add(child);
    let buf = '';
    let served = 0;
    const listeners = this.spec.unixPath ? 2 : 1;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.stderrTail.push(line);
        if (this.stderrTail.length > 30) this.stderrTail.shift();
        // etcd 3.4 (zap) logs "serving client traffic (in)securely" once per client listener.
        if (!this.ready && line.includes('serving client traffic') && ++served >= listeners) {
          this.ready = true;
          for (const w of this.readyWaiters.splice(0)) w();
        }
      }
    });
    child.on('exit', () => {
      live.delete(child);
      for (const w of this.readyWaiters.splice(0)) w();
    });
  }

  async waitReady(): Promise<void> {
    const child = this.child;
    if (!child) throw new TesseraError('bug', `etcd member "${this.spec.name}" was never started`);
    const deadline = Date.now() + this.spec.startTimeoutMs;
    if (!this.ready) {
      await new Promise<void>((resolve) => {
        this.readyWaiters.push(resolve);
        const t = setTimeout(resolve, this.spec.startTimeoutMs);
        t.unref();
      });
    }
    if (!this.ready) {
      const why = child.exitCode !== null || child.signalCode !== null ? 'exited' : 'timed out';
      await this.killNow();
      throw new TesseraError(
        child.exitCode !== null ? 'exec-failed' : 'timeout',
        `cannot start etcd member "${this.spec.name}" on port ${this.spec.clientPort} (${why}): ${this.tail()}`,
      );
    }
    // The log line precedes the listener being fully usable by a few ms; `/health` confirms
    // reads work. Inside a netns the root namespace cannot reach the port, so trust the log.
    if (this.spec.netns || this.spec.tls) return;
    const url = `http://${this.spec.host}:${this.spec.clientPort}/health`;
    for (;;) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(labTimeoutMs(1000)) });
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) {
        throw new TesseraError('timeout', `etcd member "${this.spec.name}" never became healthy at "${url}"`);
      }
      await sleep(50);
    }
  }

  tail(): string {
    return this.stderrTail.slice(-5).join('\n');
  }

  private async signalAndWait(sig: NodeJS.Signals, timeoutMs: number): Promise<boolean> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return true;
    const exited = new Promise<boolean>((resolve) => {
      child.once('exit', () => resolve(true));
      const t = setTimeout(() => resolve(false), timeoutMs);
      t.unref();
    });
    child.kill(sig);
    return exited;
  }

  async killNow(): Promise<void> {
    await this.signalAndWait('SIGKILL', 5000);
  }

  async stopGracefully(): Promise<void> {
    if (!(await this.signalAndWait('SIGTERM', 5000))) await this.killNow();
  }

  async cleanup(): Promise<void> {
    if (this.spec.ownsDataDir && !this.spec.keepDataDir) {
      await rm(this.spec.dataDir, { recursive: true, force: true });
    }
    if (this.spec.unixPath) await rm(this.spec.unixPath, { force: true });
    if (this.spec.ownsUnixDir && this.spec.unixDir) await rm(this.spec.unixDir, { recursive: true, force: true });
  }
}

function handleFor(member: Member): EtcdHandle {
  const s = member.spec;
  const scheme = clientScheme(s);
  return {
    endpoints: [`${scheme}://${s.host}:${s.clientPort}`],
    unixEndpoints: s.unixPath ? [`unix://${s.unixPath}`] : undefined,
    dataDir: s.dataDir,
    get pid() {
      return member.pid;
    },
    clientPort: s.clientPort,
    peerPort: s.peerPort,
    async stop() {
      await member.stopGracefully();
      await member.cleanup();
    },
    async kill() {
      await member.killNow();
    },
    async restart() {
      await member.stopGracefully();
      // etcd removes a stale unix socket itself only sometimes; a leftover file blocks bind.
      if (s.unixPath) await rm(s.unixPath, { force: true });
      member.launch();
      await member.waitReady();
    },
  };
}

async function memberSpec(
  opts: StartEtcdOptions,
  name: string,
  initialCluster: (self: { name: string; host: string; peerPort: number }) => string,
  token: string,
): Promise<MemberSpec> {
  const host = opts.listenAddress ?? '127.0.0.1';
  const ownsDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), `tessera-etcd-${name}-`)));
  const clientPort = opts.clientPort ?? (await freePort());
  const peerPort = opts.peerPort ?? (await freePort());
  const ownsUnixDir = opts.unixSocket === true;
  const unixDir =
    opts.unixSocket === true
      ? await mkdtemp(join(tmpdir(), `tessera-etcd-sock-`))
      : typeof opts.unixSocket === 'string'
        ? opts.unixSocket
        : undefined;
  const unixPath = unixDir !== undefined ? join(unixDir, `etcd.sock:${clientPort}`) : undefined;
  return {
    name,
    dataDir,
    ownsDataDir,
    keepDataDir: opts.keepDataDir ?? false,
    clientPort,
    peerPort,
    host,
    unixDir,
    ownsUnixDir,
    unixPath,
    netns: opts.netns,
    tls: opts.tls,
    initialCluster: initialCluster({ name, host, peerPort }),
    clusterToken: token,
    extraArgs: opts.extraArgs ?? [],
    startTimeoutMs: opts.startTimeoutMs ?? labTimeoutMs(15000),
  };
}

/** Starts one etcd member and waits until it serves clients. */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdHandle> {
  const name = opts.name ?? 'tessera-etcd';
  const spec = await memberSpec(opts, name, (m) => `${m.name}=http://${m.host}:${m.peerPort}`, `tessera-${name}`);
  const member = new Member(spec);
  member.launch();
  try {
    await member.waitReady();
  } catch (err) {
    await member.cleanup();
    throw err;
  }
  return handleFor(member);
}

export interface EtcdClusterOptions extends Omit<StartEtcdOptions, 'name' | 'dataDir' | 'clientPort' | 'peerPort'> {
  members: 1 | 3;
  /** Name prefix of the members (default `tessera-etcd`). */
  name?: string;
}

export interface EtcdClusterHandle {
  /** Every member's client URL. */
  endpoints: string[];
  unixEndpoints?: string[] | undefined;
  members: EtcdHandle[];
  stop(): Promise<void>;
}

/** Starts a one- or three-member cluster; the members find each other over loopback peer ports. */
export async function startEtcdCluster(opts: EtcdClusterOptions): Promise<EtcdClusterHandle> {
  const prefix = opts.name ?? 'tessera-etcd';
  const host = opts.listenAddress ?? '127.0.0.1';
  const names = Array.from({ length: opts.members }, (_, i) => `${prefix}-${i}`);
  const peerPorts = await Promise.all(names.map(() => freePort(host)));
  const initialCluster = names.map((n, i) => `${n}=http://${host}:${peerPorts[i]}`).join(',');
  const token = `${prefix}-${process.pid}-${Date.now()}`;
  const specs = await Promise.all(
    names.map((n, i) => {
      const unixSocket = opts.unixSocket;
      return memberSpec({ ...opts, unixSocket, peerPort: peerPorts[i] }, n, () => initialCluster, token);
    }),
  );
  const members = specs.map((s) => new Member(s));
  for (const m of members) m.launch();
  try {
    await Promise.all(members.map((m) => m.waitReady()));
  } catch (err) {
    await Promise.all(members.map(async (m) => (await m.killNow(), await m.cleanup())));
    throw err;
  }
  const handles = members.map(handleFor);
  const unix = handles.flatMap((h) => h.unixEndpoints ?? []);
  return {
    endpoints: handles.flatMap((h) => h.endpoints),
    unixEndpoints: unix.length > 0 ? unix : undefined,
    members: handles,
    async stop() {
      await Promise.all(handles.map((h) => h.stop()));
    },
  };
}

export interface TcpForwarder {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Fallback for TCP-only clients inside a namespace that cannot reach the root namespace's
 * loopback: `socat` listens on `127.0.0.1:<port>` in `netns` and forwards to etcd's unix socket.
 */
export async function forwardTcpToUnix(opts: {
  netns?: string;
  port: number;
  socketPath: string;
}): Promise<TcpForwarder> {
  installExitHook();
  const child = start(
    [
      'setpriv',
      '--pdeathsig',
      'SIGKILL',
      '--',
      'socat',
      `TCP-LISTEN:${opts.port},bind=127.0.0.1,fork,reuseaddr`,
      `UNIX-CONNECT:${opts.socketPath}`,
    ],
    { stdio: 'ignore', netns: opts.netns },
  );
  live.add(child);
  child.on('exit', () => live.delete(child));
  // socat binds within a few ms; give it a moment and make sure it did not die on bind.
  await sleep(100);
  if (child.exitCode !== null) {
    throw new TesseraError('exec-failed', `cannot forward 127.0.0.1:${opts.port} to "${opts.socketPath}"`);
  }
  return {
    pid: child.pid ?? -1,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}

export interface StartEtcdProxyOptions {
  /** etcd client URLs the proxy forwards to (`http://…`, or `unix:///path` for a unix listener). */
  endpoints: string[];
  /** Run inside this network namespace. */
  netns?: string;
  /** Address to listen on (default 127.0.0.1). */
  listenAddress?: string;
  /** Port (default: a free loopback port; pass one when `netns` is set). */
  port?: number;
  /** Extra `etcd grpc-proxy start` flags. */
  extraArgs?: string[];
  startTimeoutMs?: number;
}

export interface EtcdProxyHandle {
  /** The proxy's client URL (`http://addr:port`), for agents and the CLI. */
  endpoints: string[];
  readonly pid: number;
  port: number;
  /** SIGKILL and wait for exit (like a crash); `restart()` brings it back on the same port. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `etcd grpc-proxy start` (the same etcd binary): etcd's own watch-coalescing, range-caching
 * gRPC proxy, one per rack or node as etcd's docs suggest. The proxy is stateless: a restart needs
 * nothing but the same port, and clients resume their watches from their own revisions.
 *
 * Why `--max-send-bytes`: the proxy's default (1.5 MiB) is below one list page of ours (10,000
 * keys of ~1 KB); etcd itself allows 2 GiB replies, so without this a big list fails only through
 * the proxy.
 */
/** `etcd grpc-proxy start …` for `endpoints`, listening on `listen` (`host:port`). */
export function etcdProxyArgv(endpoints: readonly string[], listen: string, dataDir: string): string[] {
  return [
    'etcd',
    'grpc-proxy',
    'start',
    '--endpoints',
    endpoints.join(','),
    '--listen-addr',
    listen,
    '--advertise-client-url',
    listen,
    '--data-dir',
    dataDir,
    '--max-send-bytes',
    String(256 * 1024 * 1024),
    '--max-recv-bytes',
    String(512 * 1024 * 1024), // must exceed the send limit
  ];
}

export async function startEtcdProxy(opts: StartEtcdProxyOptions): Promise<EtcdProxyHandle> {
  installExitHook();
  const host = opts.listenAddress ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const timeoutMs = opts.startTimeoutMs ?? labTimeoutMs(15000);
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-etcd-proxy-'));
  const argv = [
    'setpriv',
    '--pdeathsig',
    'SIGKILL',
    '--',
    ...etcdProxyArgv(opts.endpoints, `${host}:${port}`, dataDir),
    ...(opts.extraArgs ?? []),
  ];
  let child: ChildProcess | undefined;
  let tail: string[] = [];
  const launch = async (): Promise<void> => {
    tail = [];
    const c = start(argv, { stdio: ['ignore', 'ignore', 'pipe'], netns: opts.netns });
    child = c;
    live.add(c);
    c.on('exit', () => live.delete(c));
    c.stderr?.setEncoding('utf8');
    let ready = false;
    const readyP = new Promise<void>((resolve) => {
      let buf = '';
      c.stderr?.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          tail.push(line);
          if (tail.length > 20) tail.shift();
          // 3.4 logs "listening for grpc-proxy client requests" once the listener is bound.
          if (!ready && line.toLowerCase().includes('listening for grpc proxy client requests')) {
            ready = true;
            resolve();
          }
        }
      });
      c.once('exit', () => resolve());
      setTimeout(resolve, timeoutMs).unref();
    });
    await readyP;
    // Flag errors are reported after the listener line: give it a moment to die on them.
    if (ready) await sleep(150);
    if (!ready || c.exitCode !== null || c.signalCode !== null) {
      ready = false;
      c.kill('SIGKILL');
      throw new TesseraError(
        'exec-failed',
        `cannot start etcd grpc-proxy on "${host}:${port}" for "${opts.endpoints.join(',')}": ${tail.slice(-5).join('\n')}`,
      );
    }
  };
  const signalAndWait = async (sig: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(sig);
    await exited;
  };
  try {
    await launch();
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    endpoints: [`http://${host}:${port}`],
    get pid() {
      return child?.pid ?? -1;
    },
    port,
    kill: () => signalAndWait('SIGKILL'),
    async restart() {
      await signalAndWait('SIGTERM');
      await launch();
    },
    async stop() {
      await signalAndWait('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
