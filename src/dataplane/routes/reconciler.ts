/**
 * RoutingReconciler: the only code that writes routes, VTEP devices, FDB and neighbour entries.
 * One cycle = read kernel state, diff against the calculated state, apply in batches
 * (`ip -batch -`, `bridge -batch -`). `ip -batch` is not atomic, so a failed cycle throws and the
 * next cycle re-reads and re-diffs from scratch rather than trusting what it thinks it did.
 */
import { run } from '../../lib/exec.js';
import type { IpFamily } from '../../lib/ip.js';
import { VXLAN_DEVICE, VXLAN_V6_DEVICE } from '../../lib/marks.js';
import { diffRoutes, parseKernelRoutes } from './diff.js';
import type { RouteState } from './model.js';
import { diffVtepPeers, parseFdb, parseNeigh, type VtepSpec } from '../vxlan/index.js';

export interface RoutingReconcilerOptions {
  /** Run in this network namespace (tests); the agent itself runs inside its host namespace. */
  netns?: string;
  interfacePrefix: string;
}

export interface ApplyStats {
  routeChanges: number;
  vtepChanges: number;
  /** Desired routes left for a later cycle because their device does not exist (yet). */
  skippedRoutes: number;
}

interface LinkJson {
  ifname: string;
  address?: string;
  mtu?: number;
  flags?: string[];
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; local6?: string; port?: number } };
}

export class RoutingReconciler {
  constructor(private readonly options: RoutingReconcilerOptions) {}

  private ip(args: string[], input?: string) {
    return run(['ip', ...args], { netns: this.options.netns, input });
  }

  private async batch(tool: 'ip' | 'bridge', lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    // -force: keep going past a failed line so one bad entry cannot block the rest; the exit code
    // still reports the failure and the next cycle re-reads and retries.
    await run([tool, '-force', '-batch', '-'], { netns: this.options.netns, input: `${lines.join('\n')}\n` });
  }

  private async link(name: string): Promise<LinkJson | undefined> {
    const r = await run(['ip', '-d', '-j', 'link', 'show', 'dev', name], { netns: this.options.netns, check: false });
    if (r.code !== 0) return undefined;
    return (JSON.parse(r.stdout) as LinkJson[])[0];
  }

  /** Creates, repairs or removes one VTEP so it matches `spec` (undefined = must not exist). */
  private async reconcileVtep(device: string, spec: VtepSpec | undefined): Promise<number> {
    const cur = await this.link(device);
    if (!spec) {
      if (cur) await this.ip(['link', 'del', device]);
      return cur ? 1 : 0;
    }
    const data = cur?.linkinfo?.info_data;
    const local = spec.family === 4 ? data?.local : data?.local6;
    const matches =
      cur?.linkinfo?.info_kind === 'vxlan' && data?.id === spec.vni && data?.port === spec.port && local === spec.localIp;
    let changes = 0;
    const lines: string[] = [];
    if (!matches) {
      if (cur) lines.push(`link del ${device}`);
      lines.push(
        `link add ${device} type vxlan id ${spec.vni} local ${spec.localIp} dstport ${spec.port} nolearning`,
      );
      changes++;
    }
    if (!matches || cur?.address?.toLowerCase() !== spec.mac) lines.push(`link set ${device} address ${spec.mac}`);
    if (!matches || cur?.mtu !== spec.mtu) lines.push(`link set ${device} mtu ${spec.mtu}`);
    if (!matches || !cur?.flags?.includes('UP')) lines.push(`link set ${device} up`);
    await this.batch('ip', lines);
    changes += lines.length > 0 ? 1 : 0;
    const prefix = spec.family === 4 ? 32 : 128;
    const addrs = await this.ip(['-j', spec.family === 4 ? '-4' : '-6', 'addr', 'show', 'dev', device]);
    const have = (JSON.parse(addrs.stdout) as { addr_info?: { local: string; prefixlen: number; scope?: string }[] }[])[0]
      ?.addr_info?.filter((a) => a.scope !== 'link') ?? [];
    const addrLines = have
      .filter((a) => !(a.local === spec.tunnelIp && a.prefixlen === prefix))
      .map((a) => `addr del ${a.local}/${a.prefixlen} dev ${device}`);
    if (!have.some((a) => a.local === spec.tunnelIp && a.prefixlen === prefix)) {
      addrLines.push(`addr add ${spec.tunnelIp}/${prefix} dev ${device}`);
    }
    await this.batch('ip', addrLines);
    return changes + addrLines.length;
  }

  private async reconcilePeers(device: string, state: RouteState, family: IpFamily): Promise<number> {
    const peers = state.vxlanPeers.filter((p) => p.family === family);
    const fdb = parseFdb((await run(['bridge', '-j', 'fdb', 'show', 'dev', device], { netns: this.options.netns })).stdout);
    const neigh = parseNeigh((await this.ip(['-j', family === 4 ? '-4' : '-6', 'neigh', 'show', 'dev', device])).stdout);
    const d = diffVtepPeers(device, peers, fdb, neigh);
    await this.batch('bridge', d.bridgeLines);
    await this.batch('ip', d.ipLines);
    return d.bridgeLines.length + d.ipLines.length;
  }

  async apply(state: RouteState, vteps: { v4?: VtepSpec; v6?: VtepSpec }): Promise<ApplyStats> {
    let vtepChanges = 0;
    const v4 = state.needVxlan.v4 ? vteps.v4 : undefined;
    const v6 = state.needVxlan.v6 ? vteps.v6 : undefined;
    vtepChanges += await this.reconcileVtep(VXLAN_DEVICE, v4);
    vtepChanges += await this.reconcileVtep(VXLAN_V6_DEVICE, v6);
    if (v4) vtepChanges += await this.reconcilePeers(VXLAN_DEVICE, state, 4);
    if (v6) vtepChanges += await this.reconcilePeers(VXLAN_V6_DEVICE, state, 6);

    const [r4, r6] = await Promise.all([
      this.ip(['-j', '-4', 'route', 'show', 'proto', '80']),
      this.ip(['-j', '-6', 'route', 'show', 'proto', '80']),
    ]);
    const actual = [...parseKernelRoutes(r4.stdout, 4), ...parseKernelRoutes(r6.stdout, 6)];
    // Routes over a tunnel device that does not exist could not be installed: leave them to a later
    // cycle rather than fail the whole batch.
    // The same goes for a workload whose veth is already gone (its endpoint is being deleted).
    const links = JSON.parse((await this.ip(['-j', 'link', 'show'])).stdout) as LinkJson[];
    const present = new Set(links.map((l) => l.ifname));
    if (!v4) present.delete(VXLAN_DEVICE);
    if (!v6) present.delete(VXLAN_V6_DEVICE);
    const desired = state.routes.filter((r) => !r.dev || present.has(r.dev));
    const prefix = this.options.interfacePrefix;
    const d = diffRoutes(desired, actual, (dev) => dev.startsWith(prefix));
    await this.batch('ip', d.lines);
    return { routeChanges: d.lines.length, vtepChanges, skippedRoutes: state.routes.length - desired.length };
  }
}
