/**
 * RoutingReconciler: the only code that writes routes, VTEP devices, FDB and neighbour entries.
 * One cycle = read kernel state, diff against the calculated state, apply in batches. `ip -batch`
 * is not atomic, so a failed cycle throws and the next cycle re-reads and re-diffs from scratch
 * rather than trusting what it thinks it did.
 *
 * Reads and writes go through four persistent tools (BatchSession), never a process per command:
 * - `ip -d -json`: the `link show` dump only. iproute2 keeps global state between batch lines, and
 *   `link show` leaves it set to the link family: every later `addr show` in that process prints
 *   no addresses (seen with iproute2 6.1; test/route-reconciler.test.ts trips over it).
 * - `ip -json`: addresses and neighbours (both families, filtered here), IPv4 routes, every `ip`
 *   write (a write infers its family from its addresses).
 * - `ip -6 -json`: IPv6 routes (a batch line cannot choose its family).
 * - `bridge -json`: FDB reads and writes.
 * A route cycle used to start ~8 processes, each forking the agent's whole heap (30-45 ms each at
 * 250-350 MB, with the event loop blocked meanwhile).
 */
import { BatchSession } from '../../lib/batch-session.js';
import { TesseraError } from '../../lib/errors.js';
import type { IpFamily } from '../../lib/ip.js';
import { IPIP_DEVICE, VXLAN_DEVICE, VXLAN_V6_DEVICE } from '../../lib/marks.js';
import { diffRoutes, parseKernelRoutes } from './diff.js';
import type { IpipSpec, RouteState } from './model.js';
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
  ifindex: number;
  ifname: string;
  address?: string;
  mtu?: number;
  flags?: string[];
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; local6?: string; port?: number } };
}

interface AddrJson {
  addr_info?: { family?: string; local: string; prefixlen: number; scope?: string }[];
}

/** The JSON document a read printed (a line of its own; anything else it printed is ignored). */
function jsonOf(output: string, what: string): string {
  const line = output.split('\n').find((l) => l.startsWith('['));
  if (line === undefined)
    throw new TesseraError('exec-failed', `"${what}" printed no JSON: ${output.trim() || '(nothing)'}`);
  return line;
}

export class RoutingReconciler {
  private readonly linkTool: BatchSession;
  private readonly ipTool: BatchSession;
  private readonly ip6Tool: BatchSession;
  private readonly bridgeTool: BatchSession;
  /** Per VTEP, the (spec, peers) request whose FDB and neighbour entries were last programmed. */
  private readonly programmedPeers = new Map<string, string>();
  /** The last index seen for each interface name (also of names gone since). */
  private readonly known = new Map<string, number>();

  constructor(private readonly options: RoutingReconcilerOptions) {
    const session = (argv: string[]) => new BatchSession(argv, { netns: options.netns });
    this.linkTool = session(['ip', '-d', '-json', '-force', '-batch', '-']);
    this.ipTool = session(['ip', '-json', '-force', '-batch', '-']);
    this.ip6Tool = session(['ip', '-6', '-json', '-force', '-batch', '-']);
    this.bridgeTool = session(['bridge', '-json', '-force', '-batch', '-']);
  }

  /** Stops the tools; a later apply rejects. */
  close(): void {
    for (const t of [this.linkTool, this.ipTool, this.ip6Tool, this.bridgeTool]) t.close();
  }

  private async read(tool: BatchSession, command: string): Promise<string> {
    return jsonOf(await tool.must([command]), command);
  }

  /** Writes `lines`; every line runs (-force), and any failure rejects after the whole batch. */
  private async batch(tool: 'ip' | 'bridge', lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    await (tool === 'ip' ? this.ipTool : this.bridgeTool).must(lines);
  }

  /**
   * All links, from a dump (no name lookups). `known` holds the last index seen for every name,
   * vanished ones included: a known name that now has another index was re-created behind our
   * back, and the writing tools, which may have cached it, get a fresh name cache (BatchSession).
   */
  private async links(): Promise<Map<string, LinkJson>> {
    const list = JSON.parse(await this.read(this.linkTool, 'link show')) as LinkJson[];
    const byName = new Map(list.map((l) => [l.ifname, l]));
    const recreated = list.some((l) => (this.known.get(l.ifname) ?? l.ifindex) !== l.ifindex);
    if (recreated || this.known.size > list.length + 4096) {
      this.ipTool.renew();
      this.bridgeTool.renew();
      this.known.clear(); // fresh tools know no names: safe to forget, and keeps the map small
    }
    for (const l of list) this.known.set(l.ifname, l.ifindex);
    return byName;
  }

  /** Creates, repairs or removes one VTEP so it matches `spec` (undefined = must not exist). */
  private async reconcileVtep(device: string, cur: LinkJson | undefined, spec: VtepSpec | undefined): Promise<number> {
    if (!spec) {
      if (!cur) return 0;
      await this.batch('ip', [`link del ${device}`]);
      return 1;
    }
    const data = cur?.linkinfo?.info_data;
    const local = spec.family === 4 ? data?.local : data?.local6;
    const matches =
      cur?.linkinfo?.info_kind === 'vxlan' &&
      data?.id === spec.vni &&
      data?.port === spec.port &&
      local === spec.localIp;
    let changes = 0;
    const lines: string[] = [];
    if (!matches) {
      if (cur) await this.batch('ip', [`link del ${device}`]);
      // A device of this name existed (deleted just now, or by someone else): its old index must
      // not be used for the new one. (The ip tool renews itself for the `link add`; bridge cannot.)
      if (cur || this.known.has(device)) this.bridgeTool.renew();
      lines.push(`link add ${device} type vxlan id ${spec.vni} local ${spec.localIp} dstport ${spec.port} nolearning`);
      changes++;
    }
    if (!matches || cur?.address?.toLowerCase() !== spec.mac) lines.push(`link set ${device} address ${spec.mac}`);
    if (!matches || cur?.mtu !== spec.mtu) lines.push(`link set ${device} mtu ${spec.mtu}`);
    if (!matches || !cur?.flags?.includes('UP')) lines.push(`link set ${device} up`);
    await this.batch('ip', lines);
    changes += lines.length > 0 ? 1 : 0;
    const prefix = spec.family === 4 ? 32 : 128;
    const family = spec.family === 4 ? 'inet' : 'inet6';
    const addrs = JSON.parse(await this.read(this.ipTool, `addr show dev ${device}`)) as AddrJson[];
    const have = addrs[0]?.addr_info?.filter((a) => a.family === family && a.scope !== 'link') ?? [];
    const addrLines = have
      .filter((a) => !(a.local === spec.tunnelIp && a.prefixlen === prefix))
      .map((a) => `addr del ${a.local}/${a.prefixlen} dev ${device}`);
    if (!have.some((a) => a.local === spec.tunnelIp && a.prefixlen === prefix)) {
      addrLines.push(`addr add ${spec.tunnelIp}/${prefix} dev ${device}`);
    }
    await this.batch('ip', addrLines);
    return changes + addrLines.length;
  }

  private async reconcilePeers(
    device: string,
    state: RouteState,
    family: IpFamily,
    spec: VtepSpec,
    recheck: boolean,
  ): Promise<number> {
    const peers = state.vxlanPeers.filter((p) => p.family === family);
    const request = JSON.stringify([spec, peers]);
    if (!recheck && this.programmedPeers.get(device) === request) return 0;
    this.programmedPeers.delete(device);
    const fdb = parseFdb(await this.read(this.bridgeTool, `fdb show dev ${device}`));
    const neigh = parseNeigh(await this.read(this.ipTool, `neigh show dev ${device}`)).filter(
      (n) => n.ip.includes(':') === (family === 6),
    );
    const d = diffVtepPeers(device, peers, fdb, neigh);
    await this.batch('bridge', d.bridgeLines);
    await this.batch('ip', d.ipLines);
    this.programmedPeers.set(device, request);
    return d.bridgeLines.length + d.ipLines.length;
  }

  /**
   * One cycle. `full` (the default; the agent's start and periodic resync) re-reads everything.
   * Otherwise the FDB and neighbour entries (a dump of each, ~1,000 entries at 1,000 nodes) are
   * re-read only when the peers or the VTEP changed since they were last programmed: nothing
   * watches them between resyncs, so a lighter cycle would find nothing new there.
   */
  /**
   * The IPIP device (`tessera.ipip`): `local <node address>`, so it coexists with the kernel's
   * catch-all fallback device `tunl0` (an any/any ipip device; a second one fails with "File
   * exists"), and receives the IPIP packets sent to this node (the kernel prefers the tunnel whose
   * local address matches over the fallback). MTU host - 20, the IPAM tunnel address as a /32.
   */
  private async reconcileIpip(cur: LinkJson | undefined, spec: IpipSpec | undefined): Promise<number> {
    if (!spec) {
      if (!cur) return 0;
      await this.batch('ip', [`link del ${IPIP_DEVICE}`]);
      return 1;
    }
    const data = cur?.linkinfo?.info_data;
    const matches = cur?.linkinfo?.info_kind === 'ipip' && data?.local === spec.localIp;
    const lines: string[] = [];
    if (!matches) {
      if (cur) await this.batch('ip', [`link del ${IPIP_DEVICE}`]);
      lines.push(`link add ${IPIP_DEVICE} type ipip local ${spec.localIp}`);
    }
    if (!matches || cur?.mtu !== spec.mtu) lines.push(`link set ${IPIP_DEVICE} mtu ${spec.mtu}`);
    if (!matches || !cur?.flags?.includes('UP')) lines.push(`link set ${IPIP_DEVICE} up`);
    await this.batch('ip', lines);
    const addrs = JSON.parse(await this.read(this.ipTool, `addr show dev ${IPIP_DEVICE}`)) as AddrJson[];
    const have = addrs[0]?.addr_info?.filter((a) => a.family === 'inet') ?? [];
    const want = spec.tunnelIp;
    const addrLines = have
      .filter((a) => !(a.local === want && a.prefixlen === 32))
      .map((a) => `addr del ${a.local}/${a.prefixlen} dev ${IPIP_DEVICE}`);
    if (want && !have.some((a) => a.local === want && a.prefixlen === 32))
      addrLines.push(`addr add ${want}/32 dev ${IPIP_DEVICE}`);
    await this.batch('ip', addrLines);
    return (lines.length > 0 ? 1 : 0) + addrLines.length;
  }

  async apply(
    state: RouteState,
    vteps: { v4?: VtepSpec; v6?: VtepSpec; ipip?: IpipSpec },
    options: { full?: boolean } = {},
  ): Promise<ApplyStats> {
    const full = options.full ?? true;
    let vtepChanges = 0;
    const v4 = state.needVxlan.v4 ? vteps.v4 : undefined;
    const v6 = state.needVxlan.v6 ? vteps.v6 : undefined;
    const links = await this.links();
    const tunnels = [
      [VXLAN_DEVICE, 4, v4],
      [VXLAN_V6_DEVICE, 6, v6],
    ] as const;
    for (const [device, family, spec] of tunnels) {
      const changed = await this.reconcileVtep(device, links.get(device), spec);
      vtepChanges += changed;
      if (spec) vtepChanges += await this.reconcilePeers(device, state, family, spec, full || changed > 0);
      else this.programmedPeers.delete(device);
    }
    const ipip = state.needIpip ? vteps.ipip : undefined;
    vtepChanges += await this.reconcileIpip(links.get(IPIP_DEVICE), ipip);

    const [r4, r6] = await Promise.all([
      this.read(this.ipTool, 'route show proto 80'),
      this.read(this.ip6Tool, 'route show proto 80'),
    ]);
    const actual = [...parseKernelRoutes(r4, 4), ...parseKernelRoutes(r6, 6)];
    // Routes over a tunnel device that does not exist could not be installed: leave them to a later
    // cycle rather than fail the whole batch.
    // The same goes for a workload whose veth is already gone (its endpoint is being deleted), or
    // not there yet.
    const present = new Set(links.keys());
    for (const [device, , spec] of tunnels) {
      if (spec) present.add(device);
      else present.delete(device);
    }
    if (ipip) present.add(IPIP_DEVICE);
    else present.delete(IPIP_DEVICE);
    const desired = state.routes.filter((r) => !r.dev || present.has(r.dev));
    const prefix = this.options.interfacePrefix;
    const d = diffRoutes(desired, actual, (dev) => dev.startsWith(prefix));
    await this.batch('ip', d.lines);
    return { routeChanges: d.lines.length, vtepChanges, skippedRoutes: state.routes.length - desired.length };
  }
}
