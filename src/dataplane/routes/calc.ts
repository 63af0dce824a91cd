/**
 * RouteCalculator: datastore facts -> the routes a node must have. Pure; output depends only on
 * the inputs (no event history), so the reconciler can diff it against the kernel at any time.
 *
 * Per node:
 *  - blackhole for each local affine block (so unallocated pod addresses don't leak to the default route);
 *  - /32 (/128) dev route for each local workload address;
 *  - each remote block (and each remote workload address borrowed from a block affine elsewhere)
 *    routed per its pool's encapsulation: VXLAN via the owner's tunnel address `onlink`, IPIP via the
 *    owner's address on the tunnel device, or natively via the owner's address when on the same
 *    subnet. CrossSubnet encapsulates only when the owner is on another subnet.
 */
import { CidrLookup } from '../../lib/cidr-lookup.js';
import {
  cidrContainsCidr,
  cidrContainsIp,
  checkCidr,
  formatCidr,
  hostCidr,
  tryParseIp,
  type Cidr,
  type IpAddr,
  type IpFamily,
} from '../../lib/ip.js';
import { IPIP_DEVICE, VXLAN_DEVICE, VXLAN_V6_DEVICE } from '../../lib/marks.js';
import type { BlockInfo, DesiredRoute, NodeInfo, PoolInfo, RouteInputs, RouteState, VxlanPeer } from './model.js';

interface ParsedPool extends PoolInfo {
  c: Cidr;
}

/** The local node's subnet (its address with prefix) holds `remote`'s address. */
function sameSubnet(localSubnet: Cidr | undefined, remote: string | undefined): boolean {
  if (!localSubnet || !remote) return false;
  const ip = tryParseIp(remote.split('/')[0] ?? '');
  return ip !== undefined && cidrContainsIp(localSubnet, ip);
}

const subnetOf = (a: string | undefined): Cidr | undefined =>
  a ? checkCidr(a, { strict: false, allowBareIp: true }).cidr : undefined;

const addrOf = (cidrish: string | undefined): string | undefined => cidrish?.split('/')[0];

function nodeAddr(n: NodeInfo | undefined, family: IpFamily): string | undefined {
  return addrOf(family === 4 ? n?.ipv4Address : n?.ipv6Address);
}

/**
 * Workload addresses parsed once, not on every cycle: a full cycle reads every address in the
 * cluster (30,000 at 1,000 nodes) and parsing was half its time. Owned by one RouteCalculator and
 * swept per cycle: what this cycle used stays, the rest (workloads gone since) is dropped. Entries
 * are never mutated.
 */
class ParsedAddrs {
  private readonly entries = new Map<string, { ip: IpAddr | undefined; cycle: number }>();
  private cycle = 0;
  /** Distinct entries used this cycle (the sweep is skipped when that is all of them). */
  private used = 0;

  begin(): void {
    this.cycle++;
    this.used = 0;
  }

  get(net: string): IpAddr | undefined {
    let e = this.entries.get(net);
    if (!e) {
      e = { ip: tryParseIp(net.split('/')[0] ?? ''), cycle: this.cycle };
      this.entries.set(net, e);
      this.used++;
    } else if (e.cycle !== this.cycle) {
      e.cycle = this.cycle;
      this.used++;
    }
    return e.ip;
  }

  sweep(): void {
    if (this.used === this.entries.size) return;
    for (const [net, e] of this.entries) if (e.cycle !== this.cycle) this.entries.delete(net);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The route calculation with its caches, owned by one routing driver and living as long as it. */
export class RouteCalculator {
  private readonly addrs = new ParsedAddrs();

  calculate(input: RouteInputs): RouteState {
    this.addrs.begin();
    try {
      return calculate(input, (net) => this.addrs.get(net));
    } finally {
      this.addrs.sweep();
    }
  }

  /** Parsed workload addresses held (those the last cycle used; tests). */
  get cachedAddresses(): number {
    return this.addrs.size;
  }
}

/** One calculation without a cache kept between calls. */
export function calculateRoutes(input: RouteInputs): RouteState {
  return new RouteCalculator().calculate(input);
}

function calculate(input: RouteInputs, workloadAddr: (net: string) => IpAddr | undefined): RouteState {
  const routes = new Map<string, DesiredRoute>();
  const problems: RouteState['problems'] = [];
  const peers = new Map<string, VxlanPeer>();
  const need = { v4: false, v6: false };
  let needIpip = false;
  const pools: ParsedPool[] = [];
  for (const p of input.pools) {
    const c = checkCidr(p.cidr).cidr;
    if (c) pools.push({ ...p, c });
  }
  const poolFor = (c: Cidr) => pools.find((p) => cidrContainsCidr(p.c, c));
  const local = input.nodes.get(input.localNode);
  // Parsed once per cycle, not once per remote block.
  const localSubnet = { 4: subnetOf(local?.ipv4Address), 6: subnetOf(local?.ipv6Address) } as const;

  const add = (r: DesiredRoute) => routes.set(`${r.family}|${r.dst}`, r);

  // Routes towards a prefix owned by a remote node, per the pool's encapsulation.
  const routeRemote = (dst: Cidr, owner: string, subject: string) => {
    const pool = poolFor(dst);
    if (!pool) return; // not in any pool: not ours to route
    const remote = input.nodes.get(owner);
    const family = dst.family;
    const remoteAddr = nodeAddr(remote, family);
    const crossSubnet = !sameSubnet(localSubnet[family], remoteAddr);
    const dstText = formatCidr(dst);
    const wantVxlan = pool.vxlanMode === 'Always' || (pool.vxlanMode === 'CrossSubnet' && crossSubnet);
    const wantIpip = family === 4 && (pool.ipipMode === 'Always' || (pool.ipipMode === 'CrossSubnet' && crossSubnet));
    if (wantVxlan) {
      const tunnel = family === 4 ? remote?.vxlanTunnelAddr : remote?.ipv6VxlanTunnelAddr;
      const mac = family === 4 ? remote?.vxlanTunnelMac : remote?.vxlanV6TunnelMac;
      if (!tunnel || !mac || !remoteAddr) {
        problems.push({
          subject,
          message: `node "${owner}" has no VXLAN tunnel address yet; route to "${dstText}" deferred`,
        });
        return;
      }
      if (family === 4) need.v4 = true;
      else need.v6 = true;
      peers.set(`${family}|${owner}`, { node: owner, family, nodeIp: remoteAddr, tunnelIp: tunnel, mac });
      add({
        family,
        dst: dstText,
        type: 'unicast',
        via: tunnel,
        dev: family === 4 ? VXLAN_DEVICE : VXLAN_V6_DEVICE,
        onlink: true,
      });
      return;
    }
    if (wantIpip) {
      needIpip = true;
      if (!input.ipipSupported) {
        problems.push({
          subject,
          message: `pool "${pool.name}" uses IPIP but this kernel has no ipip support; route to "${dstText}" not programmed`,
        });
        return;
      }
      if (!remoteAddr) return;
      add({ family, dst: dstText, type: 'unicast', via: remoteAddr, dev: IPIP_DEVICE, onlink: true });
      return;
    }
    if (input.bgpRouting) return; // BIRD learns and programs native routes
    if (!remoteAddr) {
      problems.push({ subject, message: `node "${owner}" has no address; route to "${dstText}" deferred` });
      return;
    }
    if (crossSubnet) {
      problems.push({
        subject,
        message: `node "${owner}" (${remoteAddr}) is on another subnet and pool "${pool.name}" has no encapsulation; "${dstText}" needs BGP routing`,
      });
      return;
    }
    add({ family, dst: dstText, type: 'unicast', via: remoteAddr });
  };

  const blockOf = new CidrLookup<BlockInfo>();
  for (const b of input.blocks) {
    const c = checkCidr(b.cidr).cidr;
    if (!c) {
      problems.push({ subject: `block ${b.cidr}`, message: `invalid block CIDR "${b.cidr}" skipped` });
      continue;
    }
    blockOf.add(c, b);
    if (!b.node) continue;
    if (b.node === input.localNode) {
      if (poolFor(c)) add({ family: c.family, dst: formatCidr(c), type: 'blackhole' });
    } else {
      routeRemote(c, b.node, `block ${b.cidr}`);
    }
  }

  for (const w of input.workloads) {
    for (const net of w.ipNetworks) {
      const ip = workloadAddr(net);
      if (!ip) {
        problems.push({ subject: `workload ${w.key}`, message: `invalid address "${net}" skipped` });
        continue;
      }
      if (w.node === input.localNode) {
        add({ family: ip.family, dst: formatCidr(hostCidr(ip)), type: 'unicast', dev: w.interfaceName, scope: 'link' });
        continue;
      }
      // A remote workload whose address is borrowed from a block not affine to its node needs a
      // host route; addresses inside the node's own blocks are covered by the block route.
      if (blockOf.find(ip)?.node !== w.node) routeRemote(hostCidr(ip), w.node, `workload ${w.key}`);
    }
  }

  const sorted = [...routes.values()].sort((a, b) => a.family - b.family || a.dst.localeCompare(b.dst));
  return {
    routes: sorted,
    vxlanPeers: [...peers.values()].sort((a, b) => a.node.localeCompare(b.node) || a.family - b.family),
    needVxlan: need,
    needIpip,
    natPools: pools.filter((p) => p.natOutgoing && !p.disabled).map((p) => p.cidr),
    allPools: pools.map((p) => p.cidr),
    problems,
  };
}
