/**
 * Shared setup for the CNI integration tests and bench/cni: a real etcd (reachable from network
 * namespaces through its unix socket), an IPPool, "node" namespaces to run plugins in (as a
 * runtime on that node would), pod namespaces, and the CNI server in a node namespace.
 * Everything created carries the run's unique prefix and is removed by `cleanup()`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { startEtcd, type EtcdHandle } from '../src/lab/etcd.js';
import { EtcdBackend, resourceKey, type Backend } from '../src/datastore/index.js';
import { lookupKind } from '../src/api/kinds.js';
import { IpamClient } from '../src/ipam/index.js';
import { run, start } from '../src/lib/exec.js';

export const ROOT = join(import.meta.dirname, '..');

/**
 * `node dist/...js` when the build is fresh, else `node --import tsx src/...ts`.
 * TESSERA_CNI_FROM_SOURCE=1 forces the source (a concurrent build can leave a stale dist).
 */
export function nodeEntry(name: 'main' | 'ipam-main' | 'server-main'): string[] {
  const js = join(ROOT, 'dist/src/cni', `${name}.js`);
  const srcDir = join(ROOT, 'src/cni');
  if (existsSync(js) && process.env['TESSERA_CNI_FROM_SOURCE'] !== '1') {
    const built = statSync(js).mtimeMs;
    const newest = Math.max(
      ...readdirSync(srcDir)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => statSync(join(srcDir, f)).mtimeMs),
    );
    if (built >= newest) return [process.execPath, js];
  }
  return [process.execPath, '--import', 'tsx', join(srcDir, `${name}.ts`)];
}

/** Makes sure bin/tessera-cni is the compiled shim (build-bin.sh may have left a launcher). */
export async function ensureShim(): Promise<string> {
  const bin = join(ROOT, 'bin/tessera-cni');
  const isElf =
    existsSync(bin) &&
    readFileSync(bin)
      .subarray(0, 4)
      .equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  if (!isElf) await run([join(ROOT, 'scripts/build-cni-shim.sh')]);
  return bin;
}

export interface PluginRun {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
  ms: number;
}

export interface CniServerProc {
  socket: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export class CniLab {
  readonly prefix = `tsr-${randomBytes(3).toString('hex')}-`;
  etcd!: EtcdHandle;
  backend!: Backend;
  ipam!: IpamClient;
  etcdUnix!: string;
  readonly namespaces: string[] = [];
  readonly servers: CniServerProc[] = [];

  async start(
    pools: { name: string; cidr: string; blockSize?: number }[] = [{ name: 'default-ipv4', cidr: '10.77.0.0/16' }],
  ): Promise<void> {
    this.etcd = await startEtcd({ unixSocket: true });
    this.etcdUnix = this.etcd.unixEndpoints![0]!;
    this.backend = new EtcdBackend({ endpoints: this.etcd.endpoints });
    this.ipam = new IpamClient(this.backend);
    const info = lookupKind('IPPool')!;
    for (const p of pools) {
      await this.backend.put(
        resourceKey(info, p.name),
        JSON.stringify({
          apiVersion: 'projectcalico.org/v3',
          kind: 'IPPool',
          metadata: { name: p.name },
          spec: { cidr: p.cidr, blockSize: p.blockSize ?? 26 },
        }),
      );
    }
  }

  async putPod(
    namespace: string,
    name: string,
    labels: Record<string, string> = {},
    spec: Record<string, unknown> = {},
  ): Promise<void> {
    const info = lookupKind('Pod')!;
    await this.backend.put(
      resourceKey(info, name, namespace),
      JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels }, spec }),
    );
  }

  async addNetns(suffix: string): Promise<string> {
    const name = `${this.prefix}${suffix}`;
    await run(['ip', 'netns', 'add', name]);
    this.namespaces.push(name);
    await run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  async delNetns(name: string): Promise<void> {
    await run(['ip', 'netns', 'del', name], { check: false });
    const i = this.namespaces.indexOf(name);
    if (i >= 0) this.namespaces.splice(i, 1);
  }

  conf(node: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      cniVersion: '1.0.0',
      name: 'tessera',
      type: 'tessera-cni',
      nodename: node,
      etcd_endpoints: this.etcdUnix,
      mtu: 1500,
      ipam: { type: 'tessera-ipam' },
      ...extra,
    };
  }

  /** Runs a plugin inside `nodeNs` the way a runtime would: env + config on stdin. */
  async invoke(argv: string[], nodeNs: string, env: Record<string, string>, conf: unknown): Promise<PluginRun> {
    const t0 = performance.now();
    const r = await run(argv, {
      netns: nodeNs,
      input: typeof conf === 'string' ? conf : JSON.stringify(conf),
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_PATH: '/usr/lib/cni', ...env },
      check: false,
    });
    const ms = performance.now() - t0;
    let json: Record<string, unknown> | undefined;
    try {
      json = r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, json, ms };
  }

  async startServer(nodeNs: string, node: string, opts: { hostQueue?: boolean } = {}): Promise<CniServerProc> {
    const socket = `/run/${this.prefix}${node}.sock`;
    const argv = [...nodeEntry('server-main'), '--socket', socket, '--etcd-endpoints', this.etcdUnix, '--node', node];
    if (opts.hostQueue === false) argv.push('--no-host-queue');
    const child = start(argv, { netns: nodeNs, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', (l) => (l === 'ready' ? resolve() : reject(new Error(`CNI server said "${l}"`))));
      child.once('exit', (c) => reject(new Error(`CNI server exited with ${c}`)));
    });
    const proc: CniServerProc = {
      socket,
      child,
      stop: async () => {
        if (child.exitCode !== null) return;
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      },
    };
    this.servers.push(proc);
    return proc;
  }

  async cleanup(): Promise<void> {
    for (const s of this.servers) await s.stop().catch(() => undefined);
    for (const ns of [...this.namespaces]) await this.delNetns(ns);
    await this.backend?.close().catch(() => undefined);
    await this.etcd?.stop().catch(() => undefined);
  }
}

export const cniEnv = (
  command: string,
  containerId: string,
  netnsName: string,
  extra: Record<string, string> = {},
): Record<string, string> => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: containerId,
  CNI_NETNS: netnsName ? `/var/run/netns/${netnsName}` : '',
  CNI_IFNAME: 'eth0',
  ...extra,
});
